"""Registration requests stay at one per second across the whole platform, as Twilio asks: the
slots come from one limiter in Redis, so processes that never talk to each other still queue in
one line."""

import itertools
import os
import subprocess
import sys
import time

from django.conf import settings

from a2p.throttle import ThrottledGateway, wait_for_registration_slot
from tests.live import ROOT

TAKE_A_SLOT = """
import sys, time
import django
django.setup()
from a2p.throttle import wait_for_registration_slot
print("ready", flush=True)
sys.stdin.readline()  # every process asks at the same moment
wait_for_registration_slot()
print(time.time(), flush=True)
"""


def test_one_registration_call_per_second_across_processes():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smsplatform.settings_test",
        "REDIS_URL": settings.REDIS_URL,
        "TEST_RUN_ID": settings.TEST_RUN_ID,  # the same limiter key as this session's
        "A2P_REGISTRATION_CALLS_PER_SECOND": "1",  # production's rate
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE_A_SLOT],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    times = []
    for worker in workers:
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0
        times.append(float(out))
    times.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Each process asked once, all at once: a limiter per process would let all three go.
    assert min(gaps) > 0.9, gaps
    assert times[-1] - times[0] < 2.5  # one a second, back to back: no slot wasted


def test_every_gateway_call_waits_for_its_slot_first():
    log = []

    class Gateway:
        account_sid = "AC1"

        def fetch_brand_registration(self, sid):
            log.append(("call", sid))
            return sid

    throttled = ThrottledGateway(Gateway(), wait=lambda: log.append(("wait",)))
    assert throttled.fetch_brand_registration("BN1") == "BN1"
    throttled.fetch_brand_registration("BN2")
    assert log == [("wait",), ("call", "BN1"), ("wait",), ("call", "BN2")]
    assert throttled.account_sid == "AC1" and log[-1] == ("call", "BN2")


def test_a_free_slot_is_taken_at_once_and_the_next_one_waits(settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"throttle-{time.time_ns()}"}
    }
    slept = []
    assert wait_for_registration_slot(rate=4.0, sleep=slept.append) == 0
    waited = wait_for_registration_slot(rate=4.0, sleep=slept.append)
    assert 0.2 < waited <= 0.25 and slept == [waited]

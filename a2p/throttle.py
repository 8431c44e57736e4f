"""Twilio asks that brand and campaign registration requests stay under one per second
(twilio-a2p.md §0). Every request the registration engine sends takes the next free slot of one
limiter kept in Redis, so the limit holds across every worker process and host of the platform,
not per process.

The slot is reserved atomically (a Lua script) against Redis's own clock, so callers on
machines whose clocks differ still queue in one line; each caller then sleeps until its slot.
"""

import threading
import time

import redis
from django.conf import settings

# Reserve the next slot: KEYS[1] holds the time (µs, Redis clock) the next slot opens. Returns
# the microseconds the caller waits for its slot.
_RESERVE_SLOT = """
local interval = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local expires_ms = math.floor((slot - now + interval) / 1000) + 60000
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', expires_ms)
return slot - now
"""

_local = threading.local()


def shared_redis() -> redis.Redis:
    """This thread's client of the platform's Redis, without the cache's per-schema key
    prefixes: what it holds is shared by every organization and process."""
    client = getattr(_local, "client", None)
    if client is None or _local.url != settings.REDIS_URL:
        client = _local.client = redis.Redis.from_url(settings.REDIS_URL)
        _local.url = settings.REDIS_URL
        _local.script = client.register_script(_RESERVE_SLOT)
    return client


def _script():
    shared_redis()
    return _local.script


def limiter_key() -> str:
    # The cache prefix keeps test sessions sharing a Redis apart; in production every process
    # has the same one, so the line is platform-wide.
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:a2p:registration-calls"


def wait_for_registration_slot(*, rate: float | None = None, sleep=time.sleep) -> float:
    """Block until this caller may send a registration request; the seconds waited."""
    rate = rate or settings.A2P_REGISTRATION_CALLS_PER_SECOND
    interval_us = int(1_000_000 / rate)
    waited = int(_script()(keys=[limiter_key()], args=[interval_us])) / 1_000_000
    if waited > 0:
        sleep(waited)
    return waited


class ThrottledGateway:
    """A Twilio gateway whose every call first waits for its registration slot (one call, one
    request: the lookups and creates of twilio_a2p.py)."""

    def __init__(self, gateway, *, wait=wait_for_registration_slot):
        self._gateway = gateway
        self._wait = wait

    @property
    def account_sid(self) -> str:
        return self._gateway.account_sid

    def __getattr__(self, name):
        attribute = getattr(self._gateway, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def throttled(*args, **kwargs):
            self._wait()
            return attribute(*args, **kwargs)

        return throttled

"""The Twilio sandbox in tests: one subprocess per session (python manage.py twilio_sandbox) on
a free port with a fresh state folder, started by the first test that asks for it.

- ``twilio_sandbox_address``: where it is and its main account, known before it starts; the
  live subprocesses (tests/live.py ``live_env``) get it in their environment.
- ``twilio_sandbox``: starts it, points this process's Twilio settings at it, and gives tests
  helpers (its settings, its stored messages, the callbacks it sent).
- every test that ran while the sandbox was up gets the gateway's requests and the sandbox's
  answers validated against Twilio's specs afterwards (tests/contract/twilio_spec.py): a
  mismatch fails that test.
"""

import contextlib
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings

from smsplatform.sandboxes.twilio import dev_credentials
from tests.contract.twilio_spec import TwilioContract
from tests.live import LiveProcess, free_port

__all__ = ["SandboxAddress", "_twilio_contract_check", "twilio_sandbox", "twilio_sandbox_address"]

# Fast reviews and deliveries: the statuses move as in production, in a fraction of a second.
REVIEW_DELAY = 0.4
DELIVERY_DELAY = 0.05


@dataclass(frozen=True)
class SandboxAddress:
    port: int
    account_sid: str
    auth_token: str
    isv_profile_sid: str
    state_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> dict:
        """The platform's Twilio settings for this sandbox (environment variables too)."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_BASE": f"{self.url}/api",
            "TWILIO_MESSAGING_BASE": f"{self.url}/messaging",
            "TWILIO_TRUSTHUB_BASE": f"{self.url}/trusthub",
            "TWILIO_EVENTS_BASE": f"{self.url}/events",
            "TWILIO_ISV_PRIMARY_PROFILE_SID": self.isv_profile_sid,
            "TWILIO_NOTIFICATION_EMAIL": "compliance@textwise.test",
        }


class SandboxClient:
    """What a test may ask the running sandbox (its /sandbox/ endpoints)."""

    def __init__(self, address: SandboxAddress, process: LiveProcess):
        self.address = address
        self.process = process
        self.url = address.url
        self.http = requests.Session()
        self.contract = TwilioContract(self.url, self.http)

    def get(self, path, **params):
        answer = self.http.get(f"{self.url}{path}", params=params, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def knobs(self) -> dict:
        return self.get("/sandbox/control")

    def set_knobs(self, **changes) -> dict:
        answer = self.http.post(f"{self.url}/sandbox/control", json=changes, timeout=10)
        answer.raise_for_status()
        return answer.json()

    @contextlib.contextmanager
    def knobs_set(self, **changes):
        """Change sandbox settings for the duration of a block."""
        before = self.knobs()
        self.set_knobs(**changes)
        try:
            yield
        finally:
            self.set_knobs(**before)

    def messages(self, **filters) -> list[dict]:
        return self.get("/sandbox/messages", **filters)["messages"]

    def stats(self) -> dict:
        return self.get("/sandbox/stats")

    def callbacks(self, after: int = 0) -> list[dict]:
        return self.get("/sandbox/callbacks", after=after)["entries"]

    def last_callback_seq(self) -> int:
        return self.get("/sandbox/callbacks", after=10**12)["last"]

    def inbound(self, **fields) -> dict:
        answer = self.http.post(f"{self.url}/sandbox/inbound", json=fields, timeout=20)
        answer.raise_for_status()
        return answer.json()


def wait_until(check, *, timeout=10.0, interval=0.05, message="condition"):
    """Poll ``check()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def new_sandbox_address(state_dir: Path) -> SandboxAddress:
    """A free port and a main account of its own, for a sandbox that keeps its state in
    ``state_dir``."""
    account_sid, auth_token = dev_credentials(f"test-{secrets.token_hex(4)}")
    return SandboxAddress(
        port=free_port(),
        account_sid=account_sid,
        auth_token=auth_token,
        isv_profile_sid="BU" + secrets.token_hex(16),
        state_dir=state_dir,
    )


@pytest.fixture(scope="session")
def twilio_sandbox_address(tmp_path_factory) -> SandboxAddress:
    return new_sandbox_address(tmp_path_factory.mktemp("twilio-sandbox"))


_running: list[SandboxClient] = []


def start_sandbox(address: SandboxAddress, *, name="twilio-sandbox", extra=()) -> LiveProcess:
    def ready():
        try:
            return requests.get(f"{address.url}/sandbox/health", timeout=1).ok
        except requests.ConnectionError:
            return False

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smsplatform.settings_test"}
    return LiveProcess(
        name,
        [
            sys.executable, "manage.py", "twilio_sandbox",
            "--port", str(address.port),
            "--state-dir", str(address.state_dir),
            "--account-sid", address.account_sid,
            "--auth-token", address.auth_token,
            "--isv-profile-sid", address.isv_profile_sid,
            "--review-delay", str(REVIEW_DELAY),
            "--delivery-delay", str(DELIVERY_DELAY),
            "--journal", "--no-default-opt-out",
            *extra,
        ],
        env,
        ready=ready,
    )  # fmt: skip


@pytest.fixture(scope="session")
def twilio_sandbox(twilio_sandbox_address):
    process = start_sandbox(twilio_sandbox_address)
    for name, value in twilio_sandbox_address.settings.items():
        setattr(settings, name, value)
    client = SandboxClient(twilio_sandbox_address, process)
    _running.append(client)
    yield client
    _running.clear()
    process.stop()


@pytest.fixture(autouse=True)
def _twilio_contract_check():
    """After each test, validate what the gateway sent the sandbox meanwhile (and what the
    sandbox answered) against Twilio's specs."""
    yield
    if not _running:
        return
    problems = _running[0].contract.check()
    if problems:
        shown = "\n".join(problems[:20])
        pytest.fail(f"Twilio contract breached ({len(problems)} problems):\n{shown}")

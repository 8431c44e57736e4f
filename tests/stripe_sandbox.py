"""The Stripe sandbox for the test session: one ``manage.py stripe_sandbox`` subprocess on a free
port with fresh state, started by the first test that asks for it. The test process's STRIPE_*
settings and the live subprocesses' environment (``live_env``) point at it.

After every test, each request the sandbox received while the test ran (from this process or
the live ones) is checked against Stripe's OpenAPI spec with its response
(tests/contract/stripe_spec.py): a mismatch fails the test.
"""

import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings

from tests.live import LiveProcess, free_port

__all__ = [
    "_stripe_requests_match_the_spec",
    "stripe_gateway",
    "stripe_sandbox",
    "stripe_webhooks",
]

SANDBOX_SECRET_KEY = "sk_test_textwise_tests"
SANDBOX_WEBHOOK_SECRET = "whsec_textwise_tests"
SDK_AGENT = "Stripe/v1 PythonBindings/"
# Set while the session's sandbox runs; the contract check after each test reads it.
_running: dict = {}


class StripeSandbox:
    """The running sandbox and its /_sandbox control surface."""

    def __init__(self, url: str):
        self.url = url
        self.secret_key = SANDBOX_SECRET_KEY
        self.webhook_secret = SANDBOX_WEBHOOK_SECRET
        self.journal_seen = 0
        self._http = requests.Session()

    @property
    def env(self) -> dict:
        return {
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_API_BASE": self.url,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
        }

    def control(self, verb: str, endpoint: str, /, **payload) -> dict:
        url = f"{self.url}/_sandbox/{endpoint}"
        response = self._http.request(verb, url, json=payload or None)
        if response.status_code >= 400:
            raise AssertionError(
                f"sandbox {verb} {endpoint}: {response.status_code} {response.text}"
            )
        return response.json()

    def configure(self, **settings_) -> dict:
        return self.control("POST", "config", **settings_)

    def events(self, event_type: str | None = None) -> list[dict]:
        query = f"?type={event_type}" if event_type else ""
        return self.control("GET", f"events{query}")["data"]

    def wait_for_webhooks(self) -> None:
        assert self.control("POST", "webhooks/wait", timeout=10)["idle"]

    def complete_checkout(self, session_id: str, card: str = "4242424242424242") -> dict:
        return self.control("POST", f"checkout/sessions/{session_id}/complete", card=card)

    def advance(self, subscription_id: str) -> dict:
        return self.control("POST", f"subscriptions/{subscription_id}/advance")

    def fail_next_payment(self, customer_id: str, count: int = 1) -> dict:
        return self.control("POST", f"customers/{customer_id}/fail_next_payment", count=count)

    def fault(self, **fault) -> None:
        self.control("POST", "faults", **fault)

    def new_journal_entries(self) -> list[dict]:
        result = self.control("GET", f"journal?after={self.journal_seen}")
        self.journal_seen = result["last"]
        return result["entries"]


def start_stripe_sandbox(port: int, state_dir: str, *extra: str) -> LiveProcess:
    def ready():
        try:
            return requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).ok
        except (requests.ConnectionError, requests.Timeout):
            return False

    return LiveProcess(
        f"stripe-sandbox-{port}",
        [
            sys.executable, "manage.py", "stripe_sandbox", "--port", str(port),
            "--public-url", f"http://127.0.0.1:{port}",
            "--state-dir", state_dir, "--secret-key", SANDBOX_SECRET_KEY,
            "--webhook-secret", SANDBOX_WEBHOOK_SECRET, "--webhook-retry-seconds", "0.2",
            *extra,
        ],
        {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "smsplatform.settings"},
        ready=ready,
    )  # fmt: skip


@pytest.fixture(scope="session")
def stripe_sandbox():
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="stripe-sandbox-") as state_dir:
        process = start_stripe_sandbox(port, state_dir, "--fresh")
        sandbox = StripeSandbox(f"http://127.0.0.1:{port}")
        previous = {name: getattr(settings, name) for name in sandbox.env}
        for name, value in sandbox.env.items():
            setattr(settings, name, value)
        _running["sandbox"] = sandbox
        try:
            yield sandbox
        finally:
            _running.pop("sandbox", None)
            for name, value in previous.items():
                setattr(settings, name, value)
            process.stop()


@pytest.fixture
def stripe_gateway(stripe_sandbox):
    from smsplatform.providers.stripe import gateway

    return gateway()


@pytest.fixture(autouse=True)
def _stripe_requests_match_the_spec():
    """Every request the sandbox received during the test, and its response, must conform to
    Stripe's OpenAPI spec."""
    yield
    sandbox = _running.get("sandbox")
    if sandbox is None:
        return
    # The SDK's requests, i.e. the gateway's (tests of the sandbox's own error handling send
    # deliberately wrong requests with plain HTTP clients).
    entries = [e for e in sandbox.new_journal_entries() if e["user_agent"].startswith(SDK_AGENT)]
    if not entries:
        return
    from tests.contract.stripe_spec import problems_in

    problems = [problem for entry in entries for problem in problems_in(entry)]
    if problems:
        pytest.fail("Stripe contract violations:\n" + "\n".join(problems), pytrace=False)


# --- A webhook endpoint in the test process ----------------------------------------------------


@dataclass
class ReceivedWebhook:
    body: bytes
    headers: dict


@dataclass
class WebhookReceiver:
    """A local HTTP server standing in for the platform's webhook view (it comes with billing);
    it also answers GET with a small page, so it can be a Checkout success or cancel URL."""

    url: str
    received: list[ReceivedWebhook] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    status: int = 200  # what it answers to webhooks

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} webhooks, got {len(self.received)}")
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def stripe_webhooks(stripe_sandbox):
    """Events from now on delivered to a local receiver (ask for this fixture after the ones
    that set up data, so their events are not among them); delivery options reset afterwards."""
    receiver_ref = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            receiver = receiver_ref["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(ReceivedWebhook(body, dict(self.headers.items())))
            self.send_response(receiver.status)
            self.end_headers()

        def do_GET(self):
            receiver_ref["receiver"].visited.append(self.path)
            page = f"<html><body><h1>Back at the shop</h1><p id=path>{self.path}</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args):
            """Silent: a request log would bury the test report."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{server.server_port}")
    receiver_ref["receiver"] = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stripe_sandbox.wait_for_webhooks()  # nothing of an earlier test arrives here
    stripe_sandbox.configure(webhook_url=f"{receiver.url}/webhooks/stripe/")
    try:
        yield receiver
    finally:
        stripe_sandbox.configure(webhook_url="", duplicate_events=False, shuffle_events=False)
        server.shutdown()
        server.server_close()

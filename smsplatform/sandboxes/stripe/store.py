"""The sandbox's state: every object it has created, idempotency records, events and per-customer
test switches, kept in memory and saved as one JSON file so a restart finds them again."""

import contextlib
import json
import os
import secrets
import string
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

API_VERSION = "2024-04-10"
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


class StripeError(Exception):
    """Raised by the sandbox's handlers; rendered as Stripe's error body and HTTP status."""

    def __init__(
        self,
        message,
        *,
        status=400,
        type="invalid_request_error",
        code=None,
        param=None,
        decline_code=None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def body(self) -> dict:
        error = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


@dataclass
class Config:
    """What the sandbox does besides answering: where events go and how faithfully-awkward it is.
    Set on the command line and changeable at run time through /_sandbox/config."""

    webhook_url: str = ""
    webhook_secret: str = ""
    duplicate_events: bool = False  # deliver every event twice, as Stripe occasionally does
    shuffle_events: bool = False  # deliver the events of one action in random order
    webhook_attempts: int = 4  # deliveries tried per event until a 2xx
    webhook_retry_seconds: float = 1.0  # first retry delay, doubled each time
    latency_ms: int = 0
    error_rate: float = 0.0  # share of API requests answered with a 500 before doing anything
    max_concurrency: int = 0  # beyond it: 429 rate_limit (0 = no limit)

    def public(self) -> dict:
        return {key: value for key, value in vars(self).items() if key != "webhook_secret"}


@dataclass
class Store:
    path: Path | None = None
    public_url: str = ""  # where browsers reach the sandbox (hosted pages)
    objects: dict = field(default_factory=dict)  # id -> object, in creation order
    events: dict = field(default_factory=dict)  # evt id -> event
    idempotency: dict = field(default_factory=dict)  # "api key|idempotency key" -> record
    meter_events: dict = field(default_factory=dict)  # identifier -> meter event
    fail_next_payments: dict = field(default_factory=dict)  # customer id -> count
    # Events emitted by the action under way, delivered as one batch once it is done, and the
    # API request that caused them (an event's ``request``).
    pending_events: list = field(default_factory=list)
    current_request: dict | None = None
    _dirty: bool = False

    # --- objects -------------------------------------------------------------------------

    def add(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        self._dirty = True
        return obj

    def get(self, object_id, kind: str | None = None, *, label=None, param="id") -> dict:
        obj = self.objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or (kind is not None and obj["object"] != kind):
            raise missing(label or (kind or "object").split(".")[-1], str(object_id), param)
        return obj

    def find(self, object_id, kind: str) -> dict | None:
        obj = self.objects.get(object_id) if isinstance(object_id, str) else None
        return obj if obj is not None and obj["object"] == kind else None

    def all(self, kind: str) -> list[dict]:
        return [obj for obj in self.objects.values() if obj["object"] == kind]

    def touch(self):
        self._dirty = True

    def take_pending_events(self) -> list[dict]:
        batch, self.pending_events = self.pending_events, []
        return batch

    # --- persistence ---------------------------------------------------------------------

    def reset(self):
        self.objects.clear()
        self.events.clear()
        self.idempotency.clear()
        self.meter_events.clear()
        self.fail_next_payments.clear()
        self._dirty = True
        self.save()

    def load(self):
        if self.path is None or not self.path.exists():
            return
        data = json.loads(self.path.read_text())
        self.objects = data.get("objects", {})
        self.events = data.get("events", {})
        self.idempotency = data.get("idempotency", {})
        self.meter_events = data.get("meter_events", {})
        self.fail_next_payments = data.get("fail_next_payments", {})

    def save(self):
        if self.path is None or not self._dirty:
            return
        self._dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "api_version": API_VERSION,
            "objects": self.objects,
            "events": self.events,
            "idempotency": self.idempotency,
            "meter_events": self.meter_events,
            "fail_next_payments": self.fail_next_payments,
        }
        # Written beside the target and renamed over it: a crash never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

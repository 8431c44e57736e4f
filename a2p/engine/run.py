"""The machinery every step uses: ``Run`` gives a step its registration, its gateway (each
request waiting for its registration slot) and the two idempotent moves, ``create_once`` and
``assign_once``. A step raises NeedsCustomer or WaitForReview to stop the engine."""

from collections.abc import Callable
from dataclasses import dataclass

from a2p.engine.history import Kind, record_event, save_fields
from a2p.models import Registration
from a2p.throttle import ThrottledGateway
from smsplatform.providers import errors


class NeedsCustomer(Exception):
    """Something only the customer can change (Twilio rejected it, or would)."""

    def __init__(self, message: str, reasons: list[dict]):
        super().__init__(message)
        self.message = message
        self.reasons = reasons


class WaitForReview(Exception):
    """The next step needs a Twilio verdict that has not come yet."""


def gateway_for(registration):
    """The organization's subaccount, every request waiting for its registration slot."""
    from smsplatform.providers.twilio import twilio_for

    return ThrottledGateway(twilio_for(registration.organization))


@dataclass(frozen=True)
class Step:
    name: str
    stage: str
    run: Callable  # (Run) -> None; raises NeedsCustomer or a ProviderError
    describe: str  # for the history, once done


class Run:
    """One engine run over a registration: its gateway, created on first use."""

    def __init__(self, registration: Registration):
        self.registration = registration
        self._gateway = None

    @property
    def gateway(self):
        if self._gateway is None:
            self._gateway = gateway_for(self.registration)
        return self._gateway

    @property
    def details(self) -> dict:
        return self.registration.details

    def name(self, what: str) -> str:
        """The friendly name of an object this registration creates: how a lost create is
        found again (unique to the registration)."""
        return f"Textwise registration {self.registration.pk} {what}"

    def create_once(self, step: str, sid_field: str, *, find, create) -> str:
        """The SID in ``sid_field``, creating the object only when no earlier attempt did."""
        registration = self.registration
        sid = getattr(registration, sid_field)
        if sid:
            return sid
        if step in registration.creates_sent:
            found = find()
            if found:
                save_fields(registration, **{sid_field: found[0].sid})
                record_event(
                    registration,
                    Kind.CALL,
                    f"Found {found[0].sid}, made by an earlier attempt whose answer was lost; "
                    "adopted it instead of creating another.",
                    data={"step": step, "sid": found[0].sid},
                )
                return found[0].sid
        else:
            # Committed before the call: a worker that dies after it still leaves the trace.
            save_fields(registration, creates_sent=[*registration.creates_sent, step])
        created = create()
        save_fields(registration, **{sid_field: created.sid})
        return created.sid

    def assign_once(self, step: str, bundle_sid: str, object_sid: str, *, listed, assign) -> None:
        registration = self.registration
        if step in registration.creates_sent and object_sid in {
            assignment.object_sid for assignment in listed(bundle_sid)
        }:
            return
        if step not in registration.creates_sent:
            save_fields(registration, creates_sent=[*registration.creates_sent, step])
        try:
            assign(bundle_sid, object_sid)
        except errors.ProviderRequestError as exc:
            if exc.http_status != 409:  # 409: assigned already (by the lost attempt)
                raise

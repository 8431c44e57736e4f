"""The Twilio gateway: every call the platform makes to Twilio goes through this module
(DESIGN §1). Apps never import the SDK.

    gateway = twilio_for(organization)   # the organization's subaccount, else the main account
    gateway.send_message(OutgoingSMS(key=..., to="+1...", body="Hi", messaging_service_sid=...))
    gateway.send_messages(messages, concurrency=50, max_per_second=12)

Built on the official ``twilio`` SDK, with the base addresses of Twilio's four domains (api,
messaging, trusthub, events) from settings: the same code talks to twilio.com or to the local
sandbox. Methods return the dataclasses of twilio_records, never SDK objects, and raise the
classified errors of smsplatform.providers.errors. Requests Twilio did not process (429, refused
connections) are retried with bounded, jittered backoff; nothing whose outcome is unknown is
retried here (AmbiguousOutcome: the caller reconciles first).

The A2P onboarding calls live in twilio_a2p.py, bulk sending in twilio_bulk.py, webhook
signatures in twilio_signatures.py; this module is the one to import.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

import requests
from django.conf import settings
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from smsplatform.providers.errors import ProviderError, twilio_error, twilio_transport_error
from smsplatform.providers.pacing import call_with_retries
from smsplatform.providers.twilio_a2p import MESSAGING_SERVICE_SETTINGS, A2PCalls, optional
from smsplatform.providers.twilio_records import (
    A2P_TRUST_PRODUCT_POLICY_SID,
    SECONDARY_CUSTOMER_PROFILE_POLICY_SID,
    A2PCampaign,
    A2PUsecase,
    Address,
    AvailableNumber,
    BrandRegistration,
    CustomerProfile,
    EndUser,
    EntityAssignment,
    Evaluation,
    EventSink,
    EventSubscription,
    IncomingNumber,
    Message,
    MessagingService,
    OutgoingSMS,
    SendResult,
    ServicePhoneNumber,
    Subaccount,
    SupportingDocument,
    TrustProduct,
    from_resource,
)
from smsplatform.providers.twilio_signatures import public_request_url, twilio_signature_is_valid

__all__ = [
    "A2P_TRUST_PRODUCT_POLICY_SID",
    "MESSAGING_SERVICE_SETTINGS",
    "SECONDARY_CUSTOMER_PROFILE_POLICY_SID",
    "A2PCampaign",
    "A2PUsecase",
    "Address",
    "AvailableNumber",
    "BrandRegistration",
    "CustomerProfile",
    "EndUser",
    "EntityAssignment",
    "Evaluation",
    "EventSink",
    "EventSubscription",
    "IncomingNumber",
    "Message",
    "MessagingService",
    "OutgoingSMS",
    "SendResult",
    "ServicePhoneNumber",
    "Subaccount",
    "SupportingDocument",
    "TrustProduct",
    "TwilioGateway",
    "main_twilio",
    "public_request_url",
    "twilio_for",
    "twilio_signature_is_valid",
    "webhook_auth_token",
]


_opt = optional


def message_parameters(sms: OutgoingSMS) -> dict:
    """The SDK's create() arguments for one OutgoingSMS."""
    return {
        "to": sms.to,
        "body": sms.body if sms.body else values.unset,
        "from_": _opt(sms.from_number),
        "messaging_service_sid": _opt(sms.messaging_service_sid),
        "status_callback": _opt(sms.status_callback),
        "media_url": list(sms.media_urls) if sms.media_urls else values.unset,
        "validity_period": _opt(sms.validity_period),
    }


def rest_error(exc, *, idempotent: bool) -> ProviderError:
    """The domain error for an HTTP error answer Twilio gave (legacy or RFC 9457 body)."""
    message = (exc.detail or exc.title) if isinstance(exc, TwilioServiceException) else exc.msg
    code = exc.code
    # The SDK puts the HTTP status in ``code`` when the body has none (e.g. a proxy's 502 page).
    if code == exc.status:
        code = None
    return twilio_error(code, http_status=exc.status, message=str(message), idempotent=idempotent)


class TwilioGateway(A2PCalls):
    """Twilio, as one account (the main account or an organization's subaccount) sees it."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base: str | None = None,
        messaging_base: str | None = None,
        trusthub_base: str | None = None,
        events_base: str | None = None,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base = api_base or settings.TWILIO_API_BASE
        self.messaging_base = messaging_base or settings.TWILIO_MESSAGING_BASE
        self.trusthub_base = trusthub_base or settings.TWILIO_TRUSTHUB_BASE
        self.events_base = events_base or settings.TWILIO_EVENTS_BASE

    def __repr__(self):
        return f"<TwilioGateway {self.account_sid} at {self.api_base}>"

    # --- plumbing ------------------------------------------------------------------------

    def sdk_client(self, http_client=None) -> Client:
        """An SDK client for this account whose domains point at the configured bases."""
        client = Client(self.account_sid, self.auth_token, http_client=http_client)
        client.api.base_url = self.api_base
        client.messaging.base_url = self.messaging_base
        client.trusthub.base_url = self.trusthub_base
        client.events.base_url = self.events_base
        return client

    @property
    def client(self) -> Client:
        """This thread's SDK client for the account (a gateway may be shared by threads; the
        SDK's ``requests`` session may not)."""
        clients = _local.__dict__.setdefault("clients", {})
        key = (self.account_sid, self.auth_token, self.api_base, self.messaging_base,
               self.trusthub_base, self.events_base)  # fmt: skip
        if key not in clients:
            if len(clients) >= 256:  # a worker thread serving many organizations
                clients.clear()
            clients[key] = self.sdk_client(http_client=_thread_http_client())
        return clients[key]

    @property
    def _account(self):
        return self.client.api.v2010.accounts(self.account_sid)

    def _call(self, func: Callable, *, idempotent: bool):
        """``func()`` with its errors classified; retried while Twilio did not process it."""

        def attempt():
            try:
                return func()
            except (TwilioRestException, TwilioServiceException) as exc:
                raise rest_error(exc, idempotent=idempotent) from exc
            except Exception as exc:
                error = requests_transport_error(exc, idempotent=idempotent)
                if error is None:
                    raise
                raise error from exc

        return call_with_retries(
            attempt,
            max_attempts=settings.TWILIO_MAX_ATTEMPTS,
            base=settings.TWILIO_BACKOFF_BASE,
            cap=settings.TWILIO_BACKOFF_CAP,
        )

    def _create(self, func):
        return self._call(func, idempotent=False)

    def _read(self, func):
        return self._call(func, idempotent=True)

    # --- accounts ------------------------------------------------------------------------

    def create_subaccount(self, friendly_name: str) -> Subaccount:
        account = self._create(lambda: self.client.api.v2010.accounts.create(friendly_name))
        return from_resource(Subaccount, account)

    def find_subaccounts(self, friendly_name: str) -> list[Subaccount]:
        """Subaccounts named exactly ``friendly_name`` (to reconcile an ambiguous create)."""
        accounts = self._read(
            lambda: self.client.api.v2010.accounts.list(friendly_name=friendly_name, limit=20)
        )
        return [from_resource(Subaccount, account) for account in accounts]

    # --- messages ------------------------------------------------------------------------

    def send_message(self, sms: OutgoingSMS) -> Message:
        """Send one text; raises a classified ProviderError. Never retried after a timeout or
        5xx (AmbiguousOutcome): Twilio has no idempotency key for messages."""
        created = self._create(lambda: self._account.messages.create(**message_parameters(sms)))
        return Message.from_sdk(created)

    def send_messages(
        self,
        messages: Sequence[OutgoingSMS],
        *,
        concurrency: int | None = None,
        max_per_second: float | None = None,
    ) -> list[SendResult]:
        """Send many texts concurrently over pooled connections, at most ``max_per_second``
        request starts per second (the organization's A2P throughput). One result per message,
        in order; one recipient's error never stops the others. Blocks until all are done
        (async code should rather await ``send_messages_async``)."""
        from smsplatform.providers import twilio_bulk  # aiohttp: loaded by bulk senders only

        return twilio_bulk.send_messages(
            self,
            messages,
            concurrency=concurrency or settings.TWILIO_SEND_CONCURRENCY,
            max_per_second=max_per_second,
        )

    def sending_session(self, *, concurrency: int | None = None, max_per_second=None):
        """For senders of batch after batch (the campaign dispatcher): a context manager whose
        ``submit(messages)`` queues a batch behind the ones in flight and returns a Future of
        its results (twilio_bulk.SendingSession)."""
        from smsplatform.providers import twilio_bulk

        return twilio_bulk.SendingSession(
            self,
            concurrency=concurrency or settings.TWILIO_SEND_CONCURRENCY,
            max_per_second=max_per_second,
        )

    async def send_messages_async(
        self,
        messages: Sequence[OutgoingSMS],
        *,
        concurrency: int | None = None,
        max_per_second: float | None = None,
    ) -> list[SendResult]:
        from smsplatform.providers import twilio_bulk

        return await twilio_bulk.send_messages_async(
            self,
            messages,
            concurrency=concurrency or settings.TWILIO_SEND_CONCURRENCY,
            max_per_second=max_per_second,
        )

    def fetch_message(self, sid: str) -> Message:
        return Message.from_sdk(self._read(lambda: self._account.messages(sid).fetch()))

    def list_messages(
        self,
        *,
        to: str | None = None,
        from_number: str | None = None,
        date_sent: datetime | None = None,
        date_sent_after: datetime | None = None,
        date_sent_before: datetime | None = None,
        limit: int = 100,
    ) -> list[Message]:
        """Messages of this account, newest first, filtered like Twilio's list (dates are
        compared by day, in UTC)."""
        found = self._read(
            lambda: self._account.messages.list(
                to=_opt(to),
                from_=_opt(from_number),
                date_sent=_opt(date_sent),
                date_sent_after=_opt(date_sent_after),
                date_sent_before=_opt(date_sent_before),
                limit=limit,
            )
        )
        return [Message.from_sdk(message) for message in found]


def requests_transport_error(exc, *, idempotent: bool) -> ProviderError | None:
    """The domain error for a request (sync SDK, ``requests``) that got no HTTP answer; None
    for an exception that is not a transport failure."""
    if not isinstance(exc, requests.RequestException):
        return None
    reason = exc.args[0] if exc.args else None
    never_sent = isinstance(exc, requests.ConnectTimeout) or (
        isinstance(reason, MaxRetryError) and isinstance(reason.reason, ConnectTimeoutError)
    )
    return twilio_transport_error(
        f"{type(exc).__name__}: {exc}", request_sent=not never_sent, idempotent=idempotent
    )


_local = threading.local()


def _thread_http_client() -> TwilioHttpClient:
    """One pooled ``requests`` session per thread, shared by every gateway in that thread
    (authentication is per request; a session is not safe to share across threads)."""
    http_client = getattr(_local, "http_client", None)
    if http_client is None:
        http_client = TwilioHttpClient(logger=logging.getLogger("twilio.http_client"))
        # The SDK checks a number; requests takes (connect, read) to tell the two apart.
        http_client.timeout = (settings.TWILIO_CONNECT_TIMEOUT, settings.TWILIO_READ_TIMEOUT)
        _local.http_client = http_client
    return http_client


def main_twilio() -> TwilioGateway:
    """The ISV's main account."""
    return TwilioGateway(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)


def twilio_for(organization) -> TwilioGateway:
    """The organization's own subaccount, or the main account while it has none."""
    from a2p.models import TwilioAccount

    account = TwilioAccount.objects.filter(organization=organization).first()
    if account is None:
        return main_twilio()
    return TwilioGateway(account.account_sid, account.auth_token)


def webhook_auth_token(organization, account_sid: str) -> str | None:
    """The auth token Twilio signed a webhook with, for a webhook about ``organization`` from
    ``account_sid`` (the payload's AccountSid): the organization's subaccount or the main
    account (messages sent before the subaccount existed); None for any other account."""
    from a2p.models import TwilioAccount

    account = TwilioAccount.objects.filter(organization=organization).first()
    if account is not None and account.account_sid == account_sid:
        return account.auth_token
    if settings.TWILIO_ACCOUNT_SID and account_sid == settings.TWILIO_ACCOUNT_SID:
        return settings.TWILIO_AUTH_TOKEN
    return None

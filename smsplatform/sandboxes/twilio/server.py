"""The sandbox server: one aiohttp application standing in for Twilio's four domains,

    http://<host>:<port>/api/...        for https://api.twilio.com/...
    http://<host>:<port>/messaging/...  for https://messaging.twilio.com/...
    http://<host>:<port>/trusthub/...   for https://trusthub.twilio.com/...
    http://<host>:<port>/events/...     for https://events.twilio.com/... (Event Streams)

plus its own pages and endpoints under /sandbox/ (control, state, inbound texts).

Every API request goes through one middleware that does what Twilio's front door does: HTTP
Basic authentication per account, a per-account limit of concurrent requests (beyond it: 429,
code 20429), and, for tests and benchmarks, added latency and injected errors (all changeable
at runtime through /sandbox/control).
"""

import asyncio
import base64
import binascii
import hmac
import logging
import random
from collections import Counter, deque
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import uvloop
from aiohttp import web

from smsplatform.sandboxes.twilio import (
    api2010,
    control,
    delivery,
    events,
    messaging,
    reviews,
    trusthub,
)
from smsplatform.sandboxes.twilio.store import Store
from smsplatform.sandboxes.twilio.wire import ApiError, new_sid, not_found, now

logger = logging.getLogger("twilio_sandbox")

DOMAINS = {"api": "/api", "messaging": "/messaging", "trusthub": "/trusthub", "events": "/events"}
SPEC_HOSTS = {
    "api": "https://api.twilio.com",
    "messaging": "https://messaging.twilio.com",
    "trusthub": "https://trusthub.twilio.com",
    "events": "https://events.twilio.com",
}


@dataclass
class Knobs:
    """What tests and benchmarks may change while the sandbox runs (POST /sandbox/control)."""

    latency: float = 0.0  # seconds added to every API request
    max_concurrency: int = 0  # concurrent requests per account; beyond: 429 (0: no limit)
    error_rate: float = 0.0  # share of API requests answered 500 without doing anything
    ambiguous_error_rate: float = 0.0  # share of POSTs carried out, then answered 500 anyway
    review_delay: float = 10.0  # seconds a TrustHub, brand or campaign review takes
    delivery_delay: float = 0.5  # seconds between a message's status changes
    # Twilio's default opt-out handling: after STOP, sends to that person answer 21610 until
    # START. An account may have it disabled when its app handles the keywords itself, as
    # Textwise does (twilio-a2p.md §5, error 23004): then 0.
    default_opt_out: int = 1

    def update(self, changes: dict) -> None:
        known = {item.name: item.type for item in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting {name}")
            setattr(self, name, int(value) if known[name] in (int, "int") else float(value))


class Sandbox:
    def __init__(
        self,
        *,
        knobs: Knobs,
        state_dir: Path | None,
        main_account_sid: str,
        main_auth_token: str,
        isv_profile_sid: str | None = None,
        journal_size: int = 0,
        callback_concurrency: int = 8,
        seed: int | None = None,
    ):
        self.knobs = knobs
        self.store = Store(state_dir)
        self.random = random.Random(seed)
        self.in_flight: Counter = Counter()
        self.stats: Counter = Counter()
        self.journal = deque(maxlen=journal_size) if journal_size else None
        self.journal_seq = 0
        self.callbacks = delivery.CallbackSender(self, concurrency=callback_concurrency)
        self.deliveries = delivery.Deliveries(self)
        self.reviews = reviews.Reviews(self)
        self.events = events.EventStreams(self)
        self.main_account = self._ensure_main_account(main_account_sid, main_auth_token)
        self.isv_profile_sid = self._ensure_isv_profile(isv_profile_sid)

    # --- accounts --------------------------------------------------------------------------

    def _ensure_main_account(self, sid: str, token: str) -> dict:
        account = self.store.get("account", sid)
        if account is None or account["auth_token"] != token:
            account = api2010.new_account(sid=sid, token=token, name="Sandbox main account")
            self.store.put("account", account)
        return account

    def _ensure_isv_profile(self, sid: str | None) -> str:
        """The ISV's primary business profile, already approved (Twilio's Console creates it)."""
        existing = self.store.where("bundle", account_sid=self.main_account["sid"], primary=True)
        if existing:
            return existing[0]["sid"]
        profile = trusthub.new_bundle(
            "customer_profile",
            account_sid=self.main_account["sid"],
            friendly_name="ISV primary business profile",
            email="isv@example.com",
            policy_sid="RN806dd6cd175f314e1f96a9727ee271f4",
            status_callback=None,
            sid=sid or new_sid("BU"),
        )
        profile.update(status="twilio-approved", primary=True)
        self.store.put("bundle", profile)
        return profile["sid"]

    def account_of(self, request) -> dict:
        """The authenticated account (set by the middleware)."""
        return request["account"]

    def path_account(self, request) -> dict:
        """The account named in an api.twilio.com path, if the caller may act for it: itself,
        or one of its subaccounts."""
        sid = request.match_info["AccountSid"]
        caller = request["account"]
        account = self.store.get("account", sid)
        if account is None or not (
            sid == caller["sid"] or account.get("owner_account_sid") == caller["sid"]
        ):
            raise not_found(request.path.removeprefix(DOMAINS["api"]))
        return account

    def visible_accounts(self, account: dict) -> set[str]:
        """SIDs whose TrustHub objects ``account`` may reference: its own and its parent's (a
        subaccount's profile links to the ISV's primary profile in the parent)."""
        sids = {account["sid"]}
        if account.get("owner_account_sid"):
            sids.add(account["owner_account_sid"])
        return sids

    def authenticate(self, request) -> dict:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username = password = ""
        account = self.store.get("account", username) if scheme.lower() == "basic" else None
        if account is None or not hmac.compare_digest(account["auth_token"], password):
            raise ApiError(
                401,
                20003,
                "Authenticate",
                detail="Your AccountSid or AuthToken was incorrect.",
            )
        if account["status"] != "active":
            raise ApiError(401, 20005, "Account not active")
        return account

    # --- addresses -------------------------------------------------------------------------

    def prefix_of(self, request) -> str:
        for prefix in DOMAINS.values():
            if request.path.startswith(prefix + "/"):
                return prefix
        return ""

    def base_url(self, request, domain: str) -> str:
        return f"{request.scheme}://{request.host}{DOMAINS[domain]}"

    # --- the front door --------------------------------------------------------------------

    async def handle_api(self, request, handler) -> web.StreamResponse:
        self.stats["requests"] += 1
        account = None
        counted = False
        try:
            account = self.authenticate(request)
            request["account"] = account
            limit = self.knobs.max_concurrency
            if limit and self.in_flight[account["sid"]] >= limit:
                self.stats["throttled"] += 1
                raise ApiError(429, 20429, "Too Many Requests")
            self.in_flight[account["sid"]] += 1
            counted = True
            if self.knobs.latency > 0:
                await asyncio.sleep(self.knobs.latency)
            if self.knobs.error_rate and self.random.random() < self.knobs.error_rate:
                self.stats["injected_errors"] += 1
                raise ApiError(500, 20500, "An internal server error has occurred")
            response = await handler(request)
            if (
                request.method == "POST"
                and self.knobs.ambiguous_error_rate
                and self.random.random() < self.knobs.ambiguous_error_rate
            ):
                # Done, but the caller cannot know: the case an idempotency key would cover.
                self.stats["injected_ambiguous_errors"] += 1
                raise ApiError(500, 20500, "An internal server error has occurred")
        except ApiError as error:
            response = error.response()
        finally:
            if counted:
                self.in_flight[account["sid"]] -= 1
        if account is not None:
            response.headers["Twilio-Concurrent-Requests"] = str(self.in_flight[account["sid"]])
        response.headers["Twilio-Request-Id"] = new_sid("RQ")
        return response

    def record(self, request, body: bytes, response) -> None:
        """Journal one API request and its answer (for the contract tests)."""
        if self.journal is None:
            return
        self.journal_seq += 1
        domain = next(
            (name for name, prefix in DOMAINS.items() if request.path.startswith(prefix + "/")),
            None,
        )
        headers = {
            name: request.headers[name]
            for name in ("User-Agent", "Content-Type", "X-Twilio-Api-Version", "Accept")
            if name in request.headers
        }
        if request.headers.get("Authorization", "").lower().startswith("basic "):
            headers["Authorization"] = "Basic (redacted)"
        self.journal.append(
            {
                "seq": self.journal_seq,
                "time": now(),
                "domain": domain,
                "host": SPEC_HOSTS.get(domain),
                "method": request.method,
                "path": request.path.removeprefix(DOMAINS.get(domain, "")),
                "query": [[key, value] for key, value in request.query.items()],
                "headers": headers,
                "body": body.decode("utf-8", errors="replace"),
                "status": response.status,
                "response_content_type": response.content_type,
                "response_body": response.body.decode("utf-8", errors="replace")
                if isinstance(response.body, bytes)
                else "",
            }
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, app) -> None:
        await self.callbacks.start()
        self.deliveries.resume()
        self.reviews.resume()
        self._flusher = asyncio.create_task(self._flush_periodically())

    async def stop(self, app) -> None:
        self._flusher.cancel()
        await self.callbacks.stop()
        self.store.close()

    async def _flush_periodically(self):
        while True:
            await asyncio.sleep(1.0)
            self.store.flush()

    def describe(self) -> dict:
        return {
            "main_account_sid": self.main_account["sid"],
            "isv_primary_profile_sid": self.isv_profile_sid,
            "knobs": asdict(self.knobs),
        }


@web.middleware
async def front_door(request, handler):
    sandbox: Sandbox = request.app["sandbox"]
    if not sandbox.prefix_of(request):
        return await handler(request)
    body = await request.read()  # cached by aiohttp: the handler can still read the form
    response = await sandbox.handle_api(request, handler)
    sandbox.record(request, body, response)
    return response


@web.middleware
async def not_found_as_twilio(request, handler):
    """Unknown API paths answer like Twilio: 404 with code 20404."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        sandbox: Sandbox = request.app["sandbox"]
        prefix = sandbox.prefix_of(request)
        if not prefix:
            raise
        return not_found(request.path.removeprefix(prefix)).response()
    except web.HTTPMethodNotAllowed:
        if not request.app["sandbox"].prefix_of(request):
            raise
        return ApiError(405, 20004, "Method not allowed").response()


def build_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(middlewares=[front_door, not_found_as_twilio])
    app["sandbox"] = sandbox
    app.add_routes(api2010.routes(DOMAINS["api"]))
    app.add_routes(messaging.routes(DOMAINS["messaging"]))
    app.add_routes(trusthub.routes(DOMAINS["trusthub"]))
    app.add_routes(events.routes(DOMAINS["events"]))
    app.add_routes(control.routes())
    app.on_startup.append(sandbox.start)
    app.on_cleanup.append(sandbox.stop)
    return app


def run(sandbox: Sandbox, *, host: str, port: int) -> None:
    logger.info(
        "Twilio sandbox on http://%s:%s (main account %s)", host, port, sandbox.main_account["sid"]
    )
    web.run_app(
        build_app(sandbox),
        host=host,
        port=port,
        access_log=None,
        print=None,
        backlog=1024,
        handle_signals=True,
        # It shares the machine with the platform it serves (one API request and two signed
        # callbacks per message): uvloop's event loop spends less of that CPU than asyncio's.
        loop=uvloop.new_event_loop(),
    )

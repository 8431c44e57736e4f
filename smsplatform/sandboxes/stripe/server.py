"""The Stripe sandbox server: api.stripe.com's /v1 endpoints the platform uses, the hosted pages,
and a /_sandbox control surface for tests and development. See docs/stripe-sandbox.md.

    python manage.py stripe_sandbox --port 12111 --webhook-url http://localhost:8000/webhooks/stripe/
"""

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import random
from pathlib import Path

from aiohttp import web

from smsplatform.sandboxes.stripe import api, flows, pages
from smsplatform.sandboxes.stripe.forms import FormDecodeError, decode_form
from smsplatform.sandboxes.stripe.objects import boolean, public, render
from smsplatform.sandboxes.stripe.store import API_VERSION, Config, Store, StripeError, new_id
from smsplatform.sandboxes.stripe.webhooks import Deliverer

log = logging.getLogger("stripe_sandbox")

DEFAULT_SECRET_KEY = "sk_test_textwise_sandbox"  # noqa: S105 - a sandbox-only test key
DEFAULT_WEBHOOK_SECRET = "whsec_textwise_sandbox"  # noqa: S105
JOURNAL_LIMIT = 20_000
SAVE_DELAY = 0.2


class Sandbox:
    def __init__(self, *, store: Store, config: Config, secret_key: str):
        self.store = store
        self.config = config
        self.secret_key = secret_key
        self.deliverer = Deliverer(store, config)
        self.journal: list[dict] = []
        self.journal_seq = 0
        self.faults: list[dict] = []
        self.in_flight = 0
        self._save_handle = None

    def flush(self) -> None:
        """After an action: deliver its events and save the state soon (coalescing bursts)."""
        self.deliverer.dispatch(self.store.take_pending_events())
        if self.store.path is not None and self._save_handle is None:
            loop = asyncio.get_running_loop()
            self._save_handle = loop.call_later(SAVE_DELAY, self._save)

    def _save(self):
        self._save_handle = None
        self.store.save()

    def record(self, entry: dict) -> None:
        self.journal_seq += 1
        entry["seq"] = self.journal_seq
        self.journal.append(entry)
        if len(self.journal) > JOURNAL_LIMIT:
            del self.journal[: len(self.journal) - JOURNAL_LIMIT]


def _json(body, status=200, headers=None) -> web.Response:
    return web.Response(
        text=json.dumps(body, indent=2),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _authorized_key(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        with contextlib.suppress(ValueError):
            return base64.b64decode(value).decode().split(":", 1)[0]
    return None


def _redacted(key: str) -> str:
    return f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else "****"


def _params(request, raw_body: bytes) -> dict:
    if request.method in ("GET", "DELETE"):
        return decode_form(request.query_string)
    return decode_form(raw_body)


def api_handler(handler, route: str):
    async def handle(request: web.Request) -> web.Response:
        sandbox: Sandbox = request.app["sandbox"]
        raw_body = await request.read()
        request_id = new_id("req_", 14)
        entry = {
            "method": request.method,
            "path": request.path,
            "route": route,
            "query": request.query_string,
            "body": raw_body.decode("utf-8", errors="replace"),
            "content_type": request.headers.get("Content-Type", ""),
            "authorization": (request.headers.get("Authorization", "").split(" ") or [""])[0],
            "stripe_version": request.headers.get("Stripe-Version"),
            "idempotency_key": request.headers.get("Idempotency-Key"),
            "user_agent": request.headers.get("User-Agent", ""),
        }
        sandbox.in_flight += 1
        try:
            status, body, headers = await _respond(sandbox, request, handler, raw_body, request_id)
        finally:
            sandbox.in_flight -= 1
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("Stripe-Version") or API_VERSION,
            **headers,
        }
        text = json.dumps(body, indent=2)
        entry.update(status=status, response=text, response_content_type="application/json")
        sandbox.record(entry)
        return web.Response(
            text=text, status=status, headers=headers, content_type="application/json"
        )

    return handle


async def _respond(sandbox: Sandbox, request, handler, raw_body, request_id):
    config = sandbox.config
    # Refused on arrival, as a server at its concurrency limit does; the others then take
    # their latency.
    if config.max_concurrency and sandbox.in_flight > config.max_concurrency:
        return _fault_response(429)
    if config.latency_ms:
        await asyncio.sleep(config.latency_ms / 1000)
    key = _authorized_key(request)
    if not key:
        error = StripeError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
            status=401,
        )
        return error.status, error.body(), {}
    if key != sandbox.secret_key:
        error = StripeError(f"Invalid API Key provided: {_redacted(key)}", status=401)
        return error.status, error.body(), {}
    fault = _take_fault(sandbox, request)
    if fault is not None:
        if fault.get("delay_seconds"):
            await asyncio.sleep(float(fault["delay_seconds"]))
        if fault.get("status"):
            return _fault_response(int(fault["status"]))
    if config.error_rate and random.random() < config.error_rate:
        return _fault_response(500)

    idempotency_key = request.headers.get("Idempotency-Key")
    record_key = fingerprint = None
    if idempotency_key and request.method in ("POST", "DELETE"):
        record_key = f"{key}|{idempotency_key}"
        fingerprint = hashlib.sha256(
            f"{request.method} {request.path} {raw_body.decode(errors='replace')}".encode()
        ).hexdigest()
        previous = sandbox.store.idempotency.get(record_key)
        if previous is not None:
            if previous["fingerprint"] != fingerprint:
                error = StripeError(
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{idempotency_key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
                return error.status, error.body(), {}
            headers = {"Idempotent-Replayed": "true", "Original-Request": previous["request_id"]}
            return previous["status"], previous["body"], headers

    sandbox.store.current_request = {"id": request_id, "idempotency_key": idempotency_key}
    try:
        params = _params(request, raw_body)
        body = handler(sandbox.store, params, **request.match_info)
        status = 200
    except FormDecodeError as error:
        failure = StripeError(str(error))
        status, body = failure.status, failure.body()
    except StripeError as error:
        status, body = error.status, error.body()
    finally:
        sandbox.store.current_request = None
    # Stripe saves a result only once the endpoint ran: not for invalid parameters.
    if record_key and (status < 400 or status == 402 or status >= 500):
        sandbox.store.idempotency[record_key] = {
            "fingerprint": fingerprint,
            "status": status,
            "body": body,
            "request_id": request_id,
        }
        sandbox.store.touch()
    sandbox.flush()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return status, body, headers


def _take_fault(sandbox: Sandbox, request) -> dict | None:
    for fault in sandbox.faults:
        if fault.get("method") and fault["method"].upper() != request.method:
            continue
        if fault.get("path") and not request.path.startswith(fault["path"]):
            continue
        fault["count"] -= 1
        if fault["count"] <= 0:
            sandbox.faults.remove(fault)
        return fault
    return None


def _fault_response(status: int):
    if status == 429:
        error = StripeError(
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            status=429,
            code="rate_limit",
        )
    elif status >= 500:
        error = StripeError("An unknown error occurred", status=status, type="api_error")
    else:
        error = StripeError("Injected sandbox fault.", status=status)
    headers = {"Stripe-Should-Retry": "false"} if status >= 500 else {}
    return error.status, error.body(), headers


async def unknown_api_path(request: web.Request) -> web.Response:
    error = StripeError(
        f"Unrecognized request URL ({request.method}: {request.path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        status=404,
    )
    return _json(error.body(), status=404)


# --- Control surface (/_sandbox) -------------------------------------------------------------


async def _control_params(request) -> dict:
    if request.content_type == "application/json":
        body = await request.text()
        return json.loads(body) if body.strip() else {}
    return dict(await request.post())


def _control(fn):
    async def handle(request: web.Request) -> web.Response:
        sandbox: Sandbox = request.app["sandbox"]
        try:
            params = await _control_params(request)
            result = fn(sandbox, params, **request.match_info)
            if asyncio.iscoroutine(result):
                result = await result
        except StripeError as error:
            sandbox.flush()
            return _json(error.body(), status=error.status)
        except flows.CardDeclined as declined:
            sandbox.flush()
            return _json(declined.as_stripe_error().body(), status=402)
        sandbox.flush()
        return _json(result)

    return handle


def control_health(sandbox, params):
    return {"ok": True, "api_version": API_VERSION}


def control_config(sandbox, params):
    config = sandbox.config
    for name, value in params.items():
        if not hasattr(config, name) or name.startswith("_"):
            raise StripeError(f"Unknown setting: {name}", param=name)
        current = getattr(config, name)
        if isinstance(current, bool):
            value = value if isinstance(value, bool) else boolean(str(value).lower(), name)
        elif isinstance(current, int):
            value = int(value)
        elif isinstance(current, float):
            value = float(value)
        setattr(config, name, value)
    return config.public()


def control_reset(sandbox, params):
    sandbox.store.reset()
    sandbox.faults.clear()
    return {"reset": True}


def control_journal(sandbox, params):
    after = int(params.get("after", 0))
    entries = [entry for entry in sandbox.journal if entry["seq"] > after]
    return {"entries": entries, "last": sandbox.journal_seq}


def control_events(sandbox, params):
    events = list(sandbox.store.events.values())
    if params.get("type"):
        events = [event for event in events if event["type"] == params["type"]]
    return {
        "data": [{**public(event), "deliveries": event.get("_deliveries", [])} for event in events]
    }


async def control_wait_for_webhooks(sandbox, params):
    idle = await sandbox.deliverer.idle(float(params.get("timeout", 10)))
    return {"idle": idle}


def control_fail_next_payment(sandbox, params, customer):
    sandbox.store.get(customer, "customer")
    count = int(params.get("count", 1))
    sandbox.store.fail_next_payments[customer] = count
    sandbox.store.touch()
    return {"customer": customer, "failing_payments": count}


def _subscription(sandbox, subscription_id):
    return sandbox.store.get(subscription_id, "subscription")


def control_advance(sandbox, params, subscription):
    sub = _subscription(sandbox, subscription)
    invoice = flows.advance_subscription(sandbox.store, sub)
    return {
        "subscription": render(sandbox.store, sub),
        "invoice": render(sandbox.store, invoice) if invoice else None,
    }


def control_exhaust_retries(sandbox, params, subscription):
    sub = _subscription(sandbox, subscription)
    flows.exhaust_retries(sandbox.store, sub, params.get("then", "cancel"))
    return render(sandbox.store, sub)


def control_complete_checkout(sandbox, params, session):
    obj = sandbox.store.get(session, "checkout.session", label="checkout.session")
    flows.complete_checkout(
        sandbox.store,
        obj,
        card_number=params.get("card", "4242424242424242"),
        email=params.get("email"),
    )
    return render(sandbox.store, obj)


def control_faults(sandbox, params):
    fault = {
        "status": params.get("status"),
        "delay_seconds": params.get("delay_seconds"),
        "count": int(params.get("count", 1)),
        "method": params.get("method"),
        "path": params.get("path"),
    }
    sandbox.faults.append(fault)
    return {"faults": sandbox.faults}


def build_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(client_max_size=2**20)
    app["sandbox"] = sandbox
    for method, path, handler in api.ROUTES:
        app.router.add_route(method, path, api_handler(handler, path))
    app.router.add_route("*", "/v1/{tail:.*}", unknown_api_path)
    pages.add_routes(app)
    control = [
        ("GET", "/_sandbox/health", control_health),
        ("GET", "/_sandbox/config", control_config),
        ("POST", "/_sandbox/config", control_config),
        ("POST", "/_sandbox/reset", control_reset),
        ("GET", "/_sandbox/journal", control_journal),
        ("GET", "/_sandbox/events", control_events),
        ("POST", "/_sandbox/webhooks/wait", control_wait_for_webhooks),
        ("POST", "/_sandbox/customers/{customer}/fail_next_payment", control_fail_next_payment),
        ("POST", "/_sandbox/subscriptions/{subscription}/advance", control_advance),
        ("POST", "/_sandbox/subscriptions/{subscription}/exhaust_retries", control_exhaust_retries),
        ("POST", "/_sandbox/checkout/sessions/{session}/complete", control_complete_checkout),
        ("POST", "/_sandbox/faults", control_faults),
    ]
    for method, path, fn in control:
        handler = _control(fn)
        if method == "GET":
            # GET parameters come from the query string.
            handler = _control_get(fn)
        app.router.add_route(method, path, handler)

    async def on_startup(app):
        await sandbox.deliverer.start()

    async def on_cleanup(app):
        await sandbox.deliverer.stop()
        sandbox.store.save()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def _control_get(fn):
    async def handle(request: web.Request) -> web.Response:
        sandbox: Sandbox = request.app["sandbox"]
        try:
            result = fn(sandbox, dict(request.query), **request.match_info)
        except StripeError as error:
            return _json(error.body(), status=error.status)
        return _json(result)

    return handle


# --- Command line ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, *, default_state_dir: Path | None) -> None:
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument(
        "--public-url", default="", help="address browsers use (default http://localhost:PORT)"
    )
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY, help="the accepted API key")
    parser.add_argument("--webhook-url", default="", help="where events are POSTed (none: kept)")
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir,
        help="folder of state.json (kept between runs)",
    )
    parser.add_argument("--memory", action="store_true", help="keep no state on disk")
    parser.add_argument("--fresh", action="store_true", help="forget the saved state first")
    parser.add_argument("--duplicate-events", action="store_true", help="deliver each twice")
    parser.add_argument("--shuffle-events", action="store_true", help="random order per action")
    parser.add_argument("--webhook-attempts", type=int, default=4)
    parser.add_argument("--webhook-retry-seconds", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=0)


def serve(options) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    state_path = None
    if not options.memory and options.state_dir is not None:
        state_path = Path(options.state_dir) / "state.json"
    store = Store(
        path=state_path, public_url=options.public_url or f"http://localhost:{options.port}"
    )
    if state_path is not None:
        if options.fresh and state_path.exists():
            state_path.unlink()
        store.load()
    config = Config(
        webhook_url=options.webhook_url,
        webhook_secret=options.webhook_secret,
        duplicate_events=options.duplicate_events,
        shuffle_events=options.shuffle_events,
        webhook_attempts=options.webhook_attempts,
        webhook_retry_seconds=options.webhook_retry_seconds,
        latency_ms=options.latency_ms,
        error_rate=options.error_rate,
        max_concurrency=options.max_concurrency,
    )
    sandbox = Sandbox(store=store, config=config, secret_key=options.secret_key)
    app = build_app(sandbox)
    where = state_path or "memory only"
    print(
        f"Stripe sandbox on http://{options.host}:{options.port} (API {API_VERSION}; "
        f"state: {where}; webhooks: {options.webhook_url or 'not delivered'})",
        flush=True,
    )
    # run_app turns SIGTERM (honcho, the tests) into a clean stop: on_cleanup saves the state.
    web.run_app(app, host=options.host, port=options.port, print=None, access_log=None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="stripe_sandbox", description=__doc__)
    add_arguments(parser, default_state_dir=None)
    serve(parser.parse_args(argv))

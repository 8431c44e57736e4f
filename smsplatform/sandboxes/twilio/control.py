"""The sandbox's own endpoints (no Twilio counterpart), under /sandbox/:

GET  /sandbox/                 a page: settings, numbers, "text this number from this phone"
GET  /sandbox/health           main account and ISV profile SIDs, current settings
GET  /sandbox/control          current settings (latency, max_concurrency, error rates...)
POST /sandbox/control          change them: a JSON object of settings
POST /sandbox/inbound          inject an inbound text: From, To, Body[, MediaUrl...]
GET  /sandbox/messages         messages as stored (filters: to, from, account_sid, status,
                               direction)
GET  /sandbox/stats            counters: requests, 429s, injected errors, messages by
                               status, callbacks, recipients texted more than once
GET  /sandbox/journal?after=N  API requests and answers (with --journal), for contract tests
GET  /sandbox/callbacks?after=N   callbacks sent and what the platform answered
"""

import html
import json
from dataclasses import asdict

from aiohttp import web

from smsplatform.sandboxes.twilio.api2010 import render_message
from smsplatform.sandboxes.twilio.wire import json_response


def routes() -> list:
    return [
        web.get("/", home),
        web.get("/sandbox/", page),
        web.get("/sandbox/health", health),
        web.get("/sandbox/control", get_control),
        web.post("/sandbox/control", set_control),
        web.post("/sandbox/inbound", inbound),
        web.get("/sandbox/messages", messages),
        web.get("/sandbox/stats", stats),
        web.get("/sandbox/journal", journal),
        web.get("/sandbox/callbacks", callbacks),
    ]


def _sandbox(request):
    return request.app["sandbox"]


async def home(request):
    raise web.HTTPFound("/sandbox/")


async def health(request):
    return json_response({"ok": True, **_sandbox(request).describe()})


async def get_control(request):
    return json_response(asdict(_sandbox(request).knobs))


async def set_control(request):
    sandbox = _sandbox(request)
    try:
        sandbox.knobs.update(await request.json())
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response(asdict(sandbox.knobs))


async def inbound(request):
    """Inject a text from a phone to one of the sandbox's numbers; it is POSTed, signed, to the
    number's (or its messaging service's) webhook, as Twilio would. The answer says where it
    went and what the platform replied."""
    sandbox = _sandbox(request)
    if request.content_type == "application/json":
        data = await request.json()
        media_urls = data.get("MediaUrl") or []
    else:
        form = await request.post()
        data = dict(form)
        media_urls = form.getall("MediaUrl", [])
    try:
        routed = sandbox.deliveries.inbound(
            from_number=data.get("From", ""),
            to=data.get("To", ""),
            body=data.get("Body", ""),
            media_urls=[url for url in media_urls if url],
        )
    except LookupError as exc:
        return json_response({"error": str(exc)}, status=404)
    status = None
    if routed["url"]:
        status = await sandbox.callbacks.send(
            routed["url"], routed["method"], routed["params"], routed["message"]["account_sid"]
        )
    result = {
        "message_sid": routed["message"]["sid"],
        "webhook_url": routed["url"],
        "webhook_status": status,
    }
    if "text/html" in request.headers.get("Accept", "") and request.content_type != (
        "application/json"
    ):
        raise web.HTTPSeeOther(f"/sandbox/?sent={routed['message']['sid']}&status={status}")
    return json_response(result)


async def messages(request):
    sandbox = _sandbox(request)
    query = request.query
    found = [
        render_message(message)
        for message in sandbox.store.all("message")
        if ("to" not in query or message["to"] == query["to"])
        and ("from" not in query or message["from"] == query["from"])
        and ("account_sid" not in query or message["account_sid"] == query["account_sid"])
        and ("status" not in query or message["status"] == query["status"])
        and ("direction" not in query or message["direction"] == query["direction"])
    ]
    return json_response({"messages": found})


async def stats(request):
    sandbox = _sandbox(request)
    counts = sandbox.store.outbound_by_to
    repeated = {to: count for to, count in counts.items() if count > 1}
    return json_response(
        {
            **dict(sandbox.stats),
            "recipients": len(counts),
            "recipients_texted_more_than_once": len(repeated),
            "repeated_recipients_sample": dict(list(repeated.items())[:100]),
            "callbacks_pending": sandbox.callbacks.pending,
            "in_flight": dict(sandbox.in_flight),
        }
    )


async def journal(request):
    sandbox = _sandbox(request)
    if sandbox.journal is None:
        return json_response({"error": "start the sandbox with --journal"}, status=404)
    after = int(request.query.get("after", 0))
    entries = [entry for entry in sandbox.journal if entry["seq"] > after]
    return json_response({"entries": entries, "last": sandbox.journal_seq})


async def callbacks(request):
    sandbox = _sandbox(request)
    after = int(request.query.get("after", 0))
    entries = [entry for entry in sandbox.callbacks.log if entry["seq"] > after]
    return json_response({"entries": entries, "last": sandbox.callbacks.log_seq})


async def page(request):
    sandbox = _sandbox(request)
    store = sandbox.store
    numbers = sorted(store.all("number"), key=lambda n: n["date_created"])
    rows = "".join(
        f"<tr><td>{html.escape(n['phone_number'])}</td><td>{html.escape(n['account_sid'])}</td>"
        f"<td>{html.escape(_destination(store, n) or '(none: texts are only stored)')}</td></tr>"
        for n in numbers
    )
    options = "".join(
        f"<option>{html.escape(n['phone_number'])}</option>" for n in reversed(numbers)
    )
    sent = ""
    if "sent" in request.query:
        sent = (
            f"<p class=ok>Sent {html.escape(request.query['sent'])}; the platform answered "
            f"HTTP {html.escape(request.query.get('status', '?'))}.</p>"
        )
    recent = sorted(store.all("message"), key=lambda m: m["date_created"], reverse=True)[:20]
    messages_rows = "".join(
        f"<tr><td>{html.escape(m['direction'])}</td><td>{html.escape(m['from'] or '')}</td>"
        f"<td>{html.escape(m['to'])}</td><td>{html.escape(m['status'])}</td>"
        f"<td>{html.escape(str(m['error_code'] or ''))}</td><td>{html.escape(m['body'])}</td></tr>"
        for m in recent
    )
    knobs = html.escape(json.dumps(asdict(sandbox.knobs)))
    body = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Twilio sandbox</title>
<style>
body{{font:15px/1.4 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}
td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;font-size:14px}}
label{{display:block;margin:.5rem 0}} input,select,textarea{{font:inherit;width:100%}}
.ok{{background:#e8f5e9;padding:.5rem}} code{{font-size:13px}}
</style></head><body>
<h1>Twilio sandbox</h1>
<p>Main account <code>{html.escape(sandbox.main_account["sid"])}</code>; settings
<code>{knobs}</code> (change them with <code>POST /sandbox/control</code>).</p>
{sent}
<h2>Text this number from this phone</h2>
<form method=post action="/sandbox/inbound">
<label>From (the subscriber's phone) <input name=From value="+15005550123" required></label>
<label>To (one of the numbers below) <select name=To required>{options}</select></label>
<label>Message <textarea name=Body rows=3 required>Hello!</textarea></label>
<button>Send the text</button>
</form>
<h2>Numbers</h2>
<table><tr><th>number</th><th>account</th><th>incoming texts go to</th></tr>{rows}</table>
<h2>Latest messages</h2>
<table><tr><th>direction</th><th>from</th><th>to</th><th>status</th><th>error</th><th>body</th>
</tr>{messages_rows}</table>
</body></html>"""
    return web.Response(text=body, content_type="text/html")


def _destination(store, number: dict) -> str | None:
    entry = store.get("service_number", number["sid"])
    service = store.get("service", entry["service_sid"]) if entry else None
    if service and not service["use_inbound_webhook_on_number"]:
        return service["inbound_request_url"]
    return number["sms_url"]

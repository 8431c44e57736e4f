"""The pages a person sees: hosted Checkout (/c/pay/cs_...), the billing portal
(/p/session/bps_...) and hosted invoices (/i/in_...). Plain server-rendered HTML forms."""

from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from aiohttp import web

from smsplatform.sandboxes.stripe import flows, objects
from smsplatform.sandboxes.stripe.objects import money
from smsplatform.sandboxes.stripe.store import StripeError

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f9fc;
  color:#1a1f36;margin:0}
main{max-width:560px;margin:40px auto;background:#fff;border-radius:12px;padding:32px;
  box-shadow:0 2px 12px #0001}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.test{display:inline-block;background:#ffde92;color:#7a4a00;font-size:12px;font-weight:600;
  padding:2px 8px;border-radius:4px}
table{width:100%;border-collapse:collapse;margin:16px 0}
td{padding:8px 0;border-bottom:1px solid #e3e8ee}
td.amount{text-align:right;white-space:nowrap} tr.total td{font-weight:700;border-bottom:none}
label{display:block;font-size:14px;margin:12px 0 4px}
input{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #cfd7df;
  border-radius:6px}
button{font-size:16px;padding:12px 16px;border-radius:6px;border:1px solid #cfd7df;
  background:#fff;cursor:pointer;margin:8px 8px 0 0}
button.primary{background:#635bff;color:#fff;border-color:#635bff;font-weight:600}
.error{background:#fde8e8;color:#9b1c1c;padding:10px;border-radius:6px;margin:12px 0}
.notice{background:#e6f4ea;color:#1e4620;padding:10px;border-radius:6px;margin:12px 0}
.muted{color:#697386;font-size:14px} form.inline{display:inline}
"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


def _date(timestamp: int | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%B %-d, %Y")


def _price_label(price: dict) -> str:
    amount = money(price["unit_amount"], price["currency"])
    if price["billing_scheme"] == "tiered":
        amount = "by usage"
    recurring = price["recurring"]
    if not recurring:
        return f"{amount} once"
    every = recurring["interval"]
    if recurring["interval_count"] > 1:
        every = f"{recurring['interval_count']} {every}s"
    return f"{amount} / {every}"


def _price_name(store, price: dict) -> str:
    product = store.get(price["product"], "product")
    if price["nickname"] and price["nickname"] != product["name"]:
        return f"{product['name']} ({price['nickname']})"
    return product["name"]


def _sandbox(request):
    return request.app["sandbox"]


# --- Hosted Checkout -------------------------------------------------------------------------


async def checkout_page(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    store = sandbox.store
    session = store.find(request.match_info["session"], "checkout.session")
    if session is None:
        return _page("Not found", "<h1>This checkout link is not valid.</h1>", 404)
    objects.expire_if_due(store, session)
    sandbox.flush()
    return _checkout_html(store, session, error=request.query.get("error"))


def _checkout_html(store, session, *, error=None, status=200) -> web.Response:
    if session["status"] == "complete":
        body = (
            "<h1>Payment complete</h1><p>This checkout has already been paid.</p>"
            f"<p><a href='{escape(_success_url(session))}'>Return to the merchant</a></p>"
        )
        return _page("Paid", body)
    if session["status"] == "expired":
        return _page("Expired", "<h1>This checkout session has expired.</h1>", 410)
    customer = store.find(session["customer"], "customer")
    email = (customer or {}).get("email") or session["customer_email"] or ""
    rows, due_today, then = [], 0, []
    for entry in session["_line_items"]:
        price = store.get(entry["price"], "price")
        metered = bool(price["recurring"]) and price["recurring"]["usage_type"] == "metered"
        quantity = entry["quantity"] or 0
        amount = (price["unit_amount"] or 0) * quantity
        label = "by usage, billed monthly" if metered else _price_label(price)
        rows.append(
            f"<tr><td>{escape(_price_name(store, price))}"
            f"<div class=muted>{escape(label)}</div></td>"
            f"<td class=amount>{'' if metered else money(amount, price['currency'])}</td></tr>"
        )
        due_today += amount
        if price["recurring"] and not metered:
            then.append(_price_label(price))
    total = money(due_today, session["currency"])
    error_html = f"<div class=error role=alert>{escape(error)}</div>" if error else ""
    then_html = f"<p class=muted>Then {escape(' + '.join(then))}.</p>" if then else ""
    body = f"""
<span class=test>TEST MODE</span>
<h1>Subscribe to Textwise</h1>
<table>{"".join(rows)}<tr class=total><td>Due today</td><td class=amount>{total}</td></tr></table>
{then_html}
{error_html}
<form method=post action="/c/pay/{escape(session["id"])}/confirm">
  <label for=email>Email</label>
  <input id=email name=email type=email value="{escape(email)}" required>
  <label for=card>Card number</label>
  <input id=card name=card inputmode=numeric autocomplete=cc-number
         value="4242 4242 4242 4242" required>
  <p class=muted>Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined;
  4000 0000 0000 9995 has insufficient funds.</p>
  <button class=primary type=submit>Pay {total}</button>
</form>
<form method=post action="/c/pay/{escape(session["id"])}/decline" class=inline>
  <button type=submit>Decline</button>
</form>
"""
    return _page("Checkout", body, status)


def _success_url(session) -> str:
    return (session["success_url"] or "").replace("{CHECKOUT_SESSION_ID}", session["id"])


async def checkout_confirm(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    store = sandbox.store
    session = store.find(request.match_info["session"], "checkout.session")
    if session is None:
        return _page("Not found", "<h1>This checkout link is not valid.</h1>", 404)
    form = await request.post()
    try:
        flows.complete_checkout(
            store, session, card_number=form.get("card", ""), email=form.get("email") or None
        )
    except flows.CardDeclined as declined:
        sandbox.flush()
        return _checkout_html(store, session, error=declined.message, status=402)
    except StripeError as error:
        sandbox.flush()
        return _page("Checkout", f"<h1>{escape(error.message)}</h1>", 409)
    sandbox.flush()
    raise web.HTTPSeeOther(_success_url(session))


async def checkout_decline(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    session = sandbox.store.find(request.match_info["session"], "checkout.session")
    if session is None:
        return _page("Not found", "<h1>This checkout link is not valid.</h1>", 404)
    flows.decline_checkout(sandbox.store, session)
    sandbox.flush()
    raise web.HTTPSeeOther(session["cancel_url"] or "/")


# --- Billing portal --------------------------------------------------------------------------


def _portal_of(request):
    """The portal session of the URL and its customer, or (None, None)."""
    store = _sandbox(request).store
    portal = store.find(request.match_info["session"], "billing_portal.session")
    if portal is None:
        return None, None
    return portal, store.get(portal["customer"], "customer")


def _portal_not_found() -> web.Response:
    return _page("Not found", "<h1>This billing portal link is not valid.</h1>", 404)


def _plan_item(store, subscription) -> dict:
    """The item billed per period (not a metered overage item)."""
    items = subscription["items"]["data"]
    return next(
        (
            item
            for item in items
            if store.get(item["price"], "price")["recurring"]["usage_type"] != "metered"
        ),
        items[0],
    )


async def portal_page(request: web.Request) -> web.Response:
    store = _sandbox(request).store
    portal, customer = _portal_of(request)
    if portal is None:
        return _portal_not_found()
    notice = request.query.get("notice")
    error = request.query.get("error")
    subscriptions = [
        sub
        for sub in store.all("subscription")
        if sub["customer"] == customer["id"] and sub["status"] != "canceled"
    ]
    base = f"/p/session/{escape(portal['id'])}"
    parts = [
        "<span class=test>TEST MODE</span>",
        f"<h1>Textwise billing</h1><p class=muted>{escape(customer['email'] or '')}</p>",
    ]
    if notice:
        parts.append(f"<div class=notice role=status>{escape(notice)}</div>")
    if error:
        parts.append(f"<div class=error role=alert>{escape(error)}</div>")
    if not subscriptions:
        parts.append("<h2>Current plan</h2><p>No active subscription.</p>")
    for sub in subscriptions:
        parts.append(_subscription_html(store, sub, base))
    card = customer.get("_card")
    card_text = f"{card['brand'].title()} ending in {card['last4']}" if card else "No card on file"
    parts.append(
        f"<h2>Payment method</h2><p>{escape(card_text)}</p>"
        f"<form method=post action='{base}/card'><label for=card>New card number</label>"
        "<input id=card name=card inputmode=numeric value='4242 4242 4242 4242'>"
        "<button type=submit>Update payment method</button></form>"
    )
    invoices = [inv for inv in store.all("invoice") if inv["customer"] == customer["id"]]
    if invoices:
        rows = "".join(
            f"<tr><td>{_date(inv['created'])}</td><td>{money(inv['total'], inv['currency'])}</td>"
            f"<td>{escape(inv['status'] or '')}</td>"
            f"<td class=amount><a href='/i/{escape(inv['id'])}'>View</a></td></tr>"
            for inv in sorted(invoices, key=lambda inv: inv["created"], reverse=True)
        )
        parts.append(f"<h2>Invoice history</h2><table>{rows}</table>")
    if portal["return_url"]:
        parts.append(
            f"<p><a id=return href='{escape(portal['return_url'])}'>Return to Textwise</a></p>"
        )
    return _page("Billing", "".join(parts))


def _subscription_html(store, sub, base) -> str:
    price = store.get(_plan_item(store, sub)["price"], "price")
    sub_id = escape(sub["id"])
    status = {"past_due": "Past due: payment failed", "unpaid": "Unpaid"}.get(sub["status"], "")
    lines = [
        "<h2>Current plan</h2>",
        f"<p><strong>{escape(_price_name(store, price))}</strong>: "
        f"{escape(_price_label(price))}</p>",
    ]
    if status:
        lines.append(f"<div class=error>{escape(status)}</div>")
    if sub["cancel_at_period_end"]:
        lines.append(
            f"<p>Cancels on {_date(sub['current_period_end'])}.</p>"
            f"<form method=post action='{base}/subscriptions/{sub_id}/resume'>"
            "<button type=submit>Renew plan</button></form>"
        )
    else:
        lines.append(f"<p>Renews on {_date(sub['current_period_end'])}.</p>")
    # The plans on offer: the other active per-period prices of the same product (the plan
    # catalogue is one product with a price per plan).
    options = [
        candidate
        for candidate in store.all("price")
        if candidate["active"]
        and candidate["product"] == price["product"]
        and candidate["recurring"]
        and candidate["recurring"]["usage_type"] == "licensed"
        and candidate["recurring"]["interval"] == price["recurring"]["interval"]
        and candidate["currency"] == price["currency"]
        and candidate["id"] != price["id"]
    ]
    if options:
        lines.append("<h2>Change plan</h2>")
        for option in options:
            name = escape(_price_name(store, option))
            lines.append(
                f"<form method=post action='{base}/subscriptions/{sub_id}/change'>"
                f"<input type=hidden name=price value='{escape(option['id'])}'>"
                f"<button type=submit>Switch to {name}: {escape(_price_label(option))}</button>"
                "</form>"
            )
    lines.append(
        "<h2>Cancel plan</h2>"
        f"<form method=post action='{base}/subscriptions/{sub_id}/cancel' class=inline>"
        "<input type=hidden name=when value=period_end>"
        "<button type=submit>Cancel at end of period</button></form>"
        f"<form method=post action='{base}/subscriptions/{sub_id}/cancel' class=inline>"
        "<input type=hidden name=when value=now><button type=submit>Cancel now</button></form>"
    )
    return "".join(lines)


async def portal_action(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    store = sandbox.store
    portal, customer = _portal_of(request)
    if portal is None:
        return _portal_not_found()
    form = await request.post()
    action = request.match_info["action"]
    base = f"/p/session/{portal['id']}"
    notice = error = None
    try:
        if action == "card":
            unpaid = flows.update_card(store, customer, form.get("card", ""))
            notice = "Payment method updated."
            if unpaid:
                error = "The new card was declined for the open invoice."
        else:
            sub = store.find(request.match_info.get("subscription"), "subscription")
            if sub is None or sub["customer"] != customer["id"]:
                raise web.HTTPNotFound()
            if action == "change":
                price_id = form.get("price", "")
                plan_item = _plan_item(store, sub)
                flows.change_item_prices(store, sub, [{"id": plan_item["id"], "price": price_id}])
                if sub["cancel_at_period_end"]:
                    flows.set_cancel_at_period_end(store, sub, False)
                price = store.get(price_id, "price")
                notice = f"Your plan is now {_price_name(store, price)}."
            elif action == "cancel" and form.get("when") == "now":
                flows.end_subscription(store, sub)
                notice = "Your plan has been canceled."
            elif action == "cancel":
                flows.set_cancel_at_period_end(store, sub, True)
                notice = f"Your plan will be canceled on {_date(sub['current_period_end'])}."
            elif action == "resume":
                flows.set_cancel_at_period_end(store, sub, False)
                notice = "Your plan will renew."
            else:
                raise web.HTTPNotFound()
    except flows.CardDeclined as declined:
        error = declined.message
    except StripeError as failure:
        error = failure.message
    sandbox.flush()
    query = "&".join(
        f"{key}={quote(value)}" for key, value in (("notice", notice), ("error", error)) if value
    )
    raise web.HTTPSeeOther(f"{base}?{query}" if query else base)


# --- Hosted invoice --------------------------------------------------------------------------


async def invoice_page(request: web.Request) -> web.Response:
    store = _sandbox(request).store
    invoice = store.find(request.match_info["invoice"], "invoice")
    if invoice is None:
        return _page("Not found", "<h1>No such invoice.</h1>", 404)
    rows = "".join(
        f"<tr><td>{escape(line['description'] or '')}</td>"
        f"<td class=amount>{money(line['amount'], line['currency'])}</td></tr>"
        for line in invoice["lines"]["data"]
    )
    body = (
        f"<span class=test>TEST MODE</span><h1>Invoice {escape(invoice['number'] or '')}</h1>"
        f"<p class=muted>{_date(invoice['created'])} · {escape(invoice['status'] or '')}</p>"
        f"<table>{rows}<tr class=total><td>Total</td>"
        f"<td class=amount>{money(invoice['total'], invoice['currency'])}</td></tr></table>"
    )
    return _page("Invoice", body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/c/pay/{session}", checkout_page)
    app.router.add_post("/c/pay/{session}/confirm", checkout_confirm)
    app.router.add_post("/c/pay/{session}/decline", checkout_decline)
    app.router.add_get("/p/session/{session}", portal_page)
    app.router.add_post("/p/session/{session}/{action}", portal_action)
    app.router.add_post("/p/session/{session}/subscriptions/{subscription}/{action}", portal_action)
    app.router.add_get("/i/{invoice}", invoice_page)

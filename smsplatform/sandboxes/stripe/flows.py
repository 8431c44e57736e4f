"""What happens in Stripe's billing when a customer pays, a period ends, a card fails or a plan
changes: the objects it creates and changes and the events it emits. Shared by the API, the
hosted pages and the control surface, so each path behaves the same."""

import contextlib

from smsplatform.sandboxes.stripe import objects
from smsplatform.sandboxes.stripe.objects import add_interval, render
from smsplatform.sandboxes.stripe.store import API_VERSION, StripeError, new_id, now

# Test cards (digits only) and how a charge on them ends: None = paid, else the decline code.
# The same numbers as Stripe's test mode.
TEST_CARDS = {
    "4242424242424242": None,
    "5555555555554444": None,
    "4000056655665556": None,
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000000341": "generic_decline",  # attaches, but every charge fails
}
DECLINES = {
    "generic_decline": ("card_declined", "Your card was declined."),
    "insufficient_funds": ("card_declined", "Your card has insufficient funds."),
    "expired_card": ("expired_card", "Your card has expired."),
    "incorrect_cvc": ("incorrect_cvc", "Your card's security code is incorrect."),
}
RETRY_AFTER_FAILURE = 3 * 86400  # Smart Retries' first retry, roughly


class CardDeclined(Exception):
    def __init__(self, decline_code: str):
        self.decline_code = decline_code
        self.code, self.message = DECLINES.get(decline_code, DECLINES["generic_decline"])
        super().__init__(self.message)

    def as_stripe_error(self) -> StripeError:
        return StripeError(
            self.message,
            status=402,
            type="card_error",
            code=self.code,
            decline_code=self.decline_code,
        )


# --- Events ----------------------------------------------------------------------------------


def emit(store, event_type: str, obj: dict, previous_attributes: dict | None = None) -> dict:
    request = store.current_request or {"id": None, "idempotency_key": None}
    data = {"object": render(store, obj)}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    event = {
        "id": new_id("evt_", 24),
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": dict(request),
        "type": event_type,
        "_deliveries": [],
    }
    store.events[event["id"]] = event
    store.pending_events.append(event)
    store.touch()
    return event


def changed(store, obj: dict, change, event_type: str) -> None:
    """Apply ``change`` to ``obj`` and emit ``event_type`` with what it was before
    (``previous_attributes``, top-level fields), if anything changed."""
    before = render(store, obj)
    change()
    after = render(store, obj)
    previous = {key: value for key, value in before.items() if after.get(key) != value}
    store.touch()
    if previous:
        emit(store, event_type, obj, previous)


# --- Cards and charges -----------------------------------------------------------------------


def card_from_number(number: str) -> dict:
    digits = "".join(ch for ch in str(number) if ch.isdigit())
    if digits in TEST_CARDS:
        decline = TEST_CARDS[digits]
    elif len(digits) in (15, 16) and _luhn_ok(digits):
        decline = None
    else:
        raise CardDeclinedNumber()
    brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(digits[0], "unknown")
    return {"brand": brand, "last4": digits[-4:], "decline_code": decline}


class CardDeclinedNumber(CardDeclined):
    def __init__(self):
        Exception.__init__(self, "Your card number is incorrect.")
        self.decline_code = "incorrect_number"
        self.code = "incorrect_number"
        self.message = "Your card number is incorrect."


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def charge(store, customer: dict, card: dict | None = None) -> None:
    """Charge the customer's card (or ``card``); raises CardDeclined. A pending
    ``fail_next_payment`` switch fails this charge whatever the card."""
    pending = store.fail_next_payments.get(customer["id"], 0)
    if pending:
        store.fail_next_payments[customer["id"]] = pending - 1
        if pending == 1:
            del store.fail_next_payments[customer["id"]]
        store.touch()
        raise CardDeclined("generic_decline")
    card = card or customer.get("_card")
    if card and card.get("decline_code"):
        raise CardDeclined(card["decline_code"])


# --- Checkout --------------------------------------------------------------------------------


def expire_checkout_session(store, session: dict) -> None:
    if session["status"] != "open":
        raise StripeError(
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{session["status"]}".'
        )
    session.update(status="expired", url=None)
    store.touch()
    emit(store, "checkout.session.expired", session)


def complete_checkout(store, session: dict, *, card_number: str, email: str | None) -> dict:
    """The customer clicked Pay: charge the first invoice, create the subscription, emit what
    Stripe emits. Raises CardDeclined (the session stays open, as on Stripe's page)."""
    objects.expire_if_due(store, session)
    if session["status"] != "open":
        raise StripeError(f"This Checkout Session is {session['status']}.")
    card = card_from_number(card_number)
    customer = store.find(session["customer"], "customer")
    amount_due = session["amount_total"]
    if customer is not None:
        charge(store, customer, card)
    elif card["decline_code"]:
        raise CardDeclined(card["decline_code"])
    new_customer = customer is None
    if new_customer:
        customer = store.add(objects.customer(email=email or session["customer_email"]))
    customer["_card"] = card
    customer["currency"] = session["currency"]
    if new_customer:
        emit(store, "customer.created", customer)

    subscription = create_subscription(store, session, customer)
    invoice = create_invoice(
        store,
        customer,
        subscription,
        billing_reason="subscription_create",
        lines=_first_invoice_lines(store, session, subscription),
        period=(subscription["current_period_start"], subscription["current_period_start"]),
    )
    subscription["latest_invoice"] = invoice["id"]
    emit(store, "customer.subscription.created", subscription)
    finalize_and_mark_paid(store, invoice)
    session.update(
        status="complete",
        payment_status="paid" if amount_due else "no_payment_required",
        customer=customer["id"],
        subscription=subscription["id"],
        invoice=invoice["id"],
        url=None,
        customer_details={
            "address": None,
            "email": customer["email"],
            "name": customer["name"],
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    store.touch()
    emit(store, "checkout.session.completed", session)
    return session


def decline_checkout(store, session: dict) -> None:
    """The customer backed out: Stripe keeps the session open until it expires."""
    objects.expire_if_due(store, session)


# --- Subscriptions and invoices --------------------------------------------------------------


def create_subscription(store, session: dict, customer: dict) -> dict:
    started = now()
    recurring = [
        (entry, store.get(entry["price"], "price"))
        for entry in session["_line_items"]
        if store.get(entry["price"], "price")["recurring"]
    ]
    interval = recurring[0][1]["recurring"]
    subscription_id = new_id("sub_", 24)
    items = []
    for entry, price in recurring:
        item = {
            "id": new_id("si_", 14),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": started,
            "discounts": [],
            "metadata": {},
            "price": price["id"],
            "subscription": subscription_id,
            "tax_rates": [],
        }
        if price["recurring"]["usage_type"] != "metered":
            item["quantity"] = int(entry.get("quantity") or 1)
        items.append(item)
    subscription = {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": started,
        "billing_cycle_anchor_config": None,
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": started,
        "currency": session["currency"],
        "current_period_end": add_interval(
            started, interval["interval"], interval["interval_count"]
        ),
        "current_period_start": started,
        "customer": customer["id"],
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "ended_at": None,
        "items": objects.list_object(
            items,
            f"/v1/subscription_items?subscription={subscription_id}",
            total_count=len(items),
        ),
        "latest_invoice": None,
        "livemode": False,
        "metadata": dict(session["_subscription_metadata"]),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": started,
        "status": "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }
    return store.add(subscription)


def _line(
    store, *, price_id, quantity, amount, period, subscription, item_id=None, description=None
) -> dict:
    price = store.get(price_id, "price")
    product = store.get(price["product"], "product")
    recurring = price["recurring"] is not None
    line = {
        "id": new_id("il_", 24),
        "object": "line_item",
        "amount": amount,
        "amount_excluding_tax": amount,
        "currency": price["currency"],
        "description": description or f"{quantity} × {_name(product, price)}",  # noqa: RUF001
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "livemode": False,
        "metadata": {},
        "period": {"start": period[0], "end": period[1]},
        "price": price_id,
        "proration": False,
        "proration_details": {"credited_items": None},
        "quantity": quantity,
        "subscription": subscription["id"],
        "tax_amounts": [],
        "tax_rates": [],
        "type": "subscription" if recurring else "invoiceitem",
        "unit_amount_excluding_tax": None if quantity == 0 else str(amount // max(quantity, 1)),
    }
    # 2024-04-10 omits (rather than nulls) the link a line does not have.
    if recurring:
        line["subscription_item"] = item_id
    else:
        line["invoice_item"] = new_id("ii_", 24)
    return line


def _name(product: dict, price: dict) -> str:
    nickname = price["nickname"]
    return f"{product['name']} ({nickname})" if nickname else product["name"]


def _first_invoice_lines(store, session, subscription) -> list[dict]:
    """Recurring items for the first period, then the one-time items (a setup fee): Stripe
    puts one-time prices of a subscription Checkout on the first invoice only."""
    period = (subscription["current_period_start"], subscription["current_period_end"])
    started = subscription["current_period_start"]
    item_by_price = {item["price"]: item["id"] for item in subscription["items"]["data"]}
    lines = []
    for entry in session["_line_items"]:
        price = store.get(entry["price"], "price")
        if price["recurring"] is None:
            continue
        metered = price["recurring"]["usage_type"] == "metered"
        quantity = 0 if metered else int(entry.get("quantity") or 1)
        lines.append(
            _line(
                store,
                price_id=price["id"],
                quantity=quantity,
                amount=(price["unit_amount"] or 0) * quantity,
                period=period,
                subscription=subscription,
                item_id=item_by_price.get(price["id"]),
            )
        )
    for entry in session["_line_items"]:
        price = store.get(entry["price"], "price")
        if price["recurring"] is not None:
            continue
        quantity = int(entry.get("quantity") or 1)
        lines.append(
            _line(
                store,
                price_id=price["id"],
                quantity=quantity,
                amount=(price["unit_amount"] or 0) * quantity,
                period=(started, started),
                subscription=subscription,
            )
        )
    return lines


def create_invoice(store, customer, subscription, *, billing_reason, lines, period) -> dict:
    created = now()
    invoice_id = new_id("in_", 24)
    sequence = customer["next_invoice_sequence"]
    customer["next_invoice_sequence"] = sequence + 1
    for line in lines:
        line["invoice"] = invoice_id
    total = sum(line["amount"] for line in lines)
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Textwise",
        "account_tax_ids": None,
        "amount_due": total,
        "amount_paid": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "application": None,
        "application_fee_amount": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_reason": billing_reason,
        "charge": None,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": subscription["currency"],
        "custom_fields": None,
        "customer": customer["id"],
        "customer_address": None,
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"{store.public_url}/i/{invoice_id}",
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": objects.list_object(
            lines, f"/v1/invoices/{invoice_id}/lines", total_count=len(lines)
        ),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "paid": False,
        "paid_out_of_band": False,
        "payment_intent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period[1],
        "period_start": period[0],
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "quote": None,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": subscription["id"],
        "subscription_details": {"metadata": dict(subscription["metadata"])},
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "tax": None,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_tax_amounts": [],
        "webhooks_delivered_at": created,
        "_sequence": sequence,
    }
    store.add(invoice)
    emit(store, "invoice.created", invoice)
    return invoice


def _finalize(store, invoice):
    invoice.update(
        status="open",
        number=f"{store.get(invoice['customer'], 'customer')['invoice_prefix']}-"
        f"{invoice['_sequence']:04d}",
        effective_at=now(),
        ending_balance=0,
    )
    invoice["status_transitions"]["finalized_at"] = now()
    emit(store, "invoice.finalized", invoice)


def _mark_paid(store, invoice):
    invoice.update(
        status="paid",
        paid=True,
        attempted=True,
        attempt_count=invoice["attempt_count"] + (1 if invoice["amount_due"] else 0),
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        next_payment_attempt=None,
    )
    invoice["status_transitions"]["paid_at"] = now()
    store.touch()
    emit(store, "invoice.paid", invoice)
    emit(store, "invoice.payment_succeeded", invoice)


def finalize_and_mark_paid(store, invoice):
    """For an invoice already charged (Checkout charges before it creates anything)."""
    _finalize(store, invoice)
    _mark_paid(store, invoice)


def attempt_payment(store, invoice: dict) -> None:
    """Charge an open invoice; on success it is paid and a past-due subscription active again.
    Raises CardDeclined after recording the failed attempt (``invoice.payment_failed``)."""
    if invoice["status"] == "draft":
        _finalize(store, invoice)
    if invoice["status"] != "open":
        raise StripeError(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    customer = store.get(invoice["customer"], "customer")
    subscription = store.find(invoice["subscription"], "subscription")
    try:
        if invoice["amount_due"]:
            charge(store, customer)
    except CardDeclined:
        invoice.update(
            attempted=True,
            attempt_count=invoice["attempt_count"] + 1,
            next_payment_attempt=now() + RETRY_AFTER_FAILURE,
        )
        store.touch()
        emit(store, "invoice.payment_failed", invoice)
        if subscription is not None and subscription["status"] in ("active", "trialing"):
            changed(
                store,
                subscription,
                lambda: subscription.update(status="past_due"),
                "customer.subscription.updated",
            )
        raise
    _mark_paid(store, invoice)
    if (
        subscription is not None
        and subscription["status"] in ("past_due", "unpaid")
        and subscription["latest_invoice"] == invoice["id"]
    ):
        changed(
            store,
            subscription,
            lambda: subscription.update(status="active"),
            "customer.subscription.updated",
        )


def usage_total(store, meter_id: str, customer_id: str, start: int, end: int) -> float:
    """The meter's aggregate of the customer's events with start <= timestamp < end."""
    meter = store.get(meter_id, "billing.meter")
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    values = []
    for event in store.meter_events.values():
        if event["event_name"] != meter["event_name"]:
            continue
        if event["payload"].get(customer_key) != customer_id:
            continue
        if not start <= event["timestamp"] < end:
            continue
        try:
            values.append(float(event["payload"].get(value_key, 0)))
        except ValueError:
            continue
    if meter["default_aggregation"]["formula"] == "count":
        return float(len(values))
    return float(sum(values))


def price_amount(price: dict, quantity: int) -> int:
    if price["billing_scheme"] != "tiered":
        return (price["unit_amount"] or 0) * quantity
    tiers = price.get("_tiers") or []
    if price["tiers_mode"] == "volume":
        for tier in tiers:
            if tier["up_to"] is None or quantity <= tier["up_to"]:
                return (tier["unit_amount"] or 0) * quantity + (tier["flat_amount"] or 0)
        return 0
    amount, floor = 0, 0
    for tier in tiers:
        ceiling = tier["up_to"]
        units = max(0, (quantity if ceiling is None else min(quantity, ceiling)) - floor)
        if units:
            amount += units * (tier["unit_amount"] or 0) + (tier["flat_amount"] or 0)
        if ceiling is None or quantity <= ceiling:
            break
        floor = ceiling
    return amount


def advance_subscription(store, subscription: dict) -> dict | None:
    """Move the subscription to its next period, as the end of a period does: a subscription
    set to cancel at period end ends; otherwise the renewal invoice bills the plan for the new
    period and the metered usage of the one that ended, then is charged. Returns the invoice."""
    if subscription["status"] in ("canceled", "incomplete_expired"):
        raise StripeError("This subscription has ended.")
    if subscription["cancel_at_period_end"]:
        end_subscription(store, subscription, at=subscription["current_period_end"])
        return None
    customer = store.get(subscription["customer"], "customer")
    old_start, old_end = subscription["current_period_start"], subscription["current_period_end"]
    plan_price = store.get(subscription["items"]["data"][0]["price"], "price")
    recurring = plan_price["recurring"]
    new_end = add_interval(old_end, recurring["interval"], recurring["interval_count"])
    lines = []
    for item in subscription["items"]["data"]:
        price = store.get(item["price"], "price")
        if price["recurring"]["usage_type"] == "metered":
            # Billed in arrears: what the meter counted in the period that just ended.
            meter_id = price["recurring"].get("meter")
            quantity = (
                int(usage_total(store, meter_id, customer["id"], old_start, old_end))
                if meter_id
                else 0
            )
            period = (old_start, old_end)
        else:
            quantity, period = item.get("quantity", 1), (old_end, new_end)
        lines.append(
            _line(
                store,
                price_id=price["id"],
                quantity=quantity,
                amount=price_amount(price, quantity),
                period=period,
                subscription=subscription,
                item_id=item["id"],
            )
        )

    def renew():
        subscription.update(current_period_start=old_end, current_period_end=new_end)

    changed(store, subscription, renew, "customer.subscription.updated")
    invoice = create_invoice(
        store,
        customer,
        subscription,
        billing_reason="subscription_cycle",
        lines=lines,
        period=(old_start, old_end),
    )
    subscription["latest_invoice"] = invoice["id"]
    # A decline is recorded on the invoice and the subscription, as Stripe does.
    with contextlib.suppress(CardDeclined):
        attempt_payment(store, invoice)
    return invoice


def end_subscription(store, subscription: dict, *, at: int | None = None, reason=None) -> None:
    if subscription["status"] == "canceled":
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    moment = at or now()
    subscription.update(
        status="canceled",
        ended_at=moment,
        canceled_at=subscription["canceled_at"] or now(),
        cancel_at_period_end=subscription["cancel_at_period_end"],
    )
    subscription["cancellation_details"]["reason"] = reason or "cancellation_requested"
    store.touch()
    emit(store, "customer.subscription.deleted", subscription)


def set_cancel_at_period_end(store, subscription: dict, flag: bool) -> None:
    if subscription["status"] == "canceled":
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata."
        )

    def change():
        subscription.update(
            cancel_at_period_end=flag,
            cancel_at=subscription["current_period_end"] if flag else None,
            canceled_at=now() if flag else None,
        )
        subscription["cancellation_details"] = {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if flag else None,
        }

    changed(store, subscription, change, "customer.subscription.updated")


def change_item_prices(store, subscription: dict, changes: list[dict]) -> None:
    """``changes``: [{"id": si_..., "price": price_...}] or a new {"price": ...} item, or
    {"id": si_..., "deleted": True}. Prorations are not computed: the new price applies from
    the next invoice."""
    if subscription["status"] == "canceled":
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata."
        )

    def change():
        items = subscription["items"]["data"]
        for index, entry in enumerate(changes):
            if entry.get("price"):
                price = store.get(entry["price"], "price", param=f"items[{index}][price]")
                if not price["active"] or price["recurring"] is None:
                    problem = "inactive" if not price["active"] else "not recurring"
                    raise StripeError(
                        f"The price specified is {problem}.", param=f"items[{index}][price]"
                    )
            item = None
            if entry.get("id"):
                item = next((i for i in items if i["id"] == entry["id"]), None)
                if item is None:
                    raise objects_missing_item(entry["id"], index)
            if item is not None and entry.get("deleted"):
                items.remove(item)
            elif item is not None:
                if entry.get("price"):
                    item["price"] = entry["price"]
                if entry.get("quantity") is not None:
                    item["quantity"] = int(entry["quantity"])
            elif entry.get("price"):
                new_item = {
                    "id": new_id("si_", 14),
                    "object": "subscription_item",
                    "billing_thresholds": None,
                    "created": now(),
                    "discounts": [],
                    "metadata": {},
                    "price": entry["price"],
                    "subscription": subscription["id"],
                    "tax_rates": [],
                }
                if store.get(entry["price"], "price")["recurring"]["usage_type"] != "metered":
                    new_item["quantity"] = int(entry.get("quantity") or 1)
                items.append(new_item)
        subscription["items"]["total_count"] = len(items)

    changed(store, subscription, change, "customer.subscription.updated")


def objects_missing_item(item_id, index) -> StripeError:
    return StripeError(
        f"No such subscription item: '{item_id}'",
        status=404,
        code="resource_missing",
        param=f"items[{index}][id]",
    )


def update_card(store, customer: dict, card_number: str) -> list[dict]:
    """A new default card (the portal's "update payment method"); open invoices are charged
    again at once, as Stripe's retry after a card update does. Returns those still unpaid."""
    customer["_card"] = card_from_number(card_number)
    store.touch()
    emit(store, "customer.updated", customer, {"invoice_settings": {}})
    unpaid = []
    for invoice in store.all("invoice"):
        if invoice["customer"] == customer["id"] and invoice["status"] == "open":
            try:
                attempt_payment(store, invoice)
            except CardDeclined:
                unpaid.append(invoice)
    return unpaid


def exhaust_retries(store, subscription: dict, then: str) -> None:
    """Every retry of the latest invoice failed: Stripe then cancels the subscription or marks
    it unpaid (a Dashboard setting)."""
    invoice = store.find(subscription["latest_invoice"], "invoice")
    if invoice is not None and invoice["status"] == "open":
        invoice.update(next_payment_attempt=None)
        store.touch()
    if then == "unpaid":
        changed(
            store,
            subscription,
            lambda: subscription.update(status="unpaid"),
            "customer.subscription.updated",
        )
    else:
        end_subscription(store, subscription, reason="payment_failed")

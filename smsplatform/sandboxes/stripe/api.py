"""The /v1 endpoints the platform uses, with Stripe's parameters, objects and errors.

Each handler takes the store, the decoded parameters and the path's ids, and returns the object
to send (or raises StripeError). The server around them does authentication, idempotency, the
journal and webhook delivery.
"""

from smsplatform.sandboxes.stripe import flows, objects
from smsplatform.sandboxes.stripe.objects import (
    boolean,
    integer,
    list_object,
    merge_metadata,
    metadata,
    paginate,
    render,
    required,
)
from smsplatform.sandboxes.stripe.store import StripeError, new_id, now

CHECKOUT_LIFETIME = 24 * 3600
PORTAL_CONFIGURATION = "bpc_sandboxdefaultconfiguration"


def _expand(params) -> list[str]:
    value = params.get("expand") or []
    return value if isinstance(value, list) else [value]


def _list(store, kind, params, url, keep=lambda obj: True) -> dict:
    items = [obj for obj in store.all(kind) if keep(obj)]
    page, has_more = paginate(items, params, url)
    expand = [path.removeprefix("data.") for path in _expand(params) if path.startswith("data.")]
    return list_object([render(store, obj, expand) for obj in page], url, has_more=has_more)


# --- Customers -------------------------------------------------------------------------------


def create_customer(store, params, **_):
    obj = objects.customer(
        email=params.get("email") or None,
        name=params.get("name") or None,
        description=params.get("description") or None,
        phone=params.get("phone") or None,
        metadata=metadata(params.get("metadata")),
    )
    store.add(obj)
    flows.emit(store, "customer.created", obj)
    return render(store, obj, _expand(params))


def retrieve_customer(store, params, customer):
    return render(store, store.get(customer, "customer"), _expand(params))


def update_customer(store, params, customer):
    obj = store.get(customer, "customer")

    def change():
        for field in ("email", "name", "description", "phone"):
            if field in params:
                obj[field] = params[field] or None
        if "metadata" in params:
            obj["metadata"] = merge_metadata(obj["metadata"], params["metadata"])

    flows.changed(store, obj, change, "customer.updated")
    return render(store, obj, _expand(params))


def list_customers(store, params, **_):
    email = params.get("email")
    return _list(
        store, "customer", params, "/v1/customers", lambda obj: not email or obj["email"] == email
    )


# --- Products and prices ---------------------------------------------------------------------


def create_product(store, params, **_):
    product_id = params.get("id")
    if product_id and product_id in store.objects:
        raise StripeError("Product already exists.", code="resource_already_exists", param="id")
    obj = objects.product(
        name=required(params, "name"),
        product_id=product_id,
        description=params.get("description") or None,
        active=boolean(params.get("active", "true"), "active"),
        metadata=metadata(params.get("metadata")),
    )
    store.add(obj)
    flows.emit(store, "product.created", obj)
    return render(store, obj, _expand(params))


def retrieve_product(store, params, id):
    return render(store, store.get(id, "product"), _expand(params))


def update_product(store, params, id):
    obj = store.get(id, "product")

    def change():
        for field in ("name", "description"):
            if field in params:
                obj[field] = params[field] or None
        if "active" in params:
            obj["active"] = boolean(params["active"], "active")
        if "metadata" in params:
            obj["metadata"] = merge_metadata(obj["metadata"], params["metadata"])
        obj["updated"] = now()

    flows.changed(store, obj, change, "product.updated")
    return render(store, obj, _expand(params))


def list_products(store, params, **_):
    active = params.get("active")
    return _list(
        store,
        "product",
        params,
        "/v1/products",
        lambda obj: active is None or obj["active"] == boolean(active, "active"),
    )


def _tiers(params):
    tiers = []
    for index, tier in enumerate(params.get("tiers") or []):
        up_to = tier.get("up_to")
        tiers.append(
            {
                "flat_amount": integer(tier["flat_amount"], f"tiers[{index}][flat_amount]")
                if tier.get("flat_amount") not in (None, "")
                else None,
                "flat_amount_decimal": tier.get("flat_amount"),
                "unit_amount": integer(tier.get("unit_amount", 0), f"tiers[{index}][unit_amount]"),
                "unit_amount_decimal": str(tier.get("unit_amount", 0)),
                "up_to": None
                if up_to in ("inf", None)
                else integer(up_to, f"tiers[{index}][up_to]"),
            }
        )
    return tiers


def create_price(store, params, **_):
    currency = required(params, "currency").lower()
    product_id = params.get("product")
    if not product_id:
        if not params.get("product_data"):
            raise StripeError(
                "You must specify either `product` or `product_data` when creating a price.",
                code="parameter_missing",
                param="product",
            )
        product_obj = store.add(objects.product(name=required(params["product_data"], "name")))
        product_id = product_obj["id"]
    else:
        store.get(product_id, "product", param="product")
    recurring = None
    if params.get("recurring"):
        spec = params["recurring"]
        interval = required(spec, "interval")
        if interval not in ("day", "week", "month", "year"):
            raise StripeError(
                "Invalid recurring[interval]: must be one of day, month, week, or year",
                param="recurring[interval]",
            )
        usage_type = spec.get("usage_type", "licensed")
        if usage_type == "metered" and spec.get("meter"):
            store.get(spec["meter"], "billing.meter", label="meter", param="recurring[meter]")
        recurring = {
            "aggregate_usage": None if usage_type == "licensed" else "sum",
            "interval": interval,
            "interval_count": integer(spec.get("interval_count", 1), "recurring[interval_count]"),
            "meter": spec.get("meter"),
            "trial_period_days": None,
            "usage_type": usage_type,
        }
    tiers = _tiers(params) if params.get("tiers") else None
    unit_amount = params.get("unit_amount")
    if tiers is None and unit_amount in (None, ""):
        raise StripeError(
            "Missing required param: unit_amount.", code="parameter_missing", param="unit_amount"
        )
    lookup_key = params.get("lookup_key") or None
    if lookup_key:
        holder = _price_with_lookup_key(store, lookup_key)
        if holder is not None:
            if not boolean(params.get("transfer_lookup_key", "false"), "transfer_lookup_key"):
                raise StripeError(
                    f"A price (`{holder['id']}`) already uses that lookup key.",
                    param="lookup_key",
                )
            flows.changed(store, holder, lambda: holder.update(lookup_key=None), "price.updated")
    obj = objects.price(
        product_id=product_id,
        currency=currency,
        unit_amount=None if tiers else integer(unit_amount, "unit_amount"),
        recurring=recurring,
        tiers=tiers,
        tiers_mode=params.get("tiers_mode") if tiers else None,
        lookup_key=lookup_key,
        nickname=params.get("nickname") or None,
        active=boolean(params.get("active", "true"), "active"),
        metadata=metadata(params.get("metadata")),
    )
    store.add(obj)
    flows.emit(store, "price.created", obj)
    return render(store, obj, _expand(params))


def _price_with_lookup_key(store, lookup_key):
    return next((obj for obj in store.all("price") if obj["lookup_key"] == lookup_key), None)


def retrieve_price(store, params, price):
    return render(store, store.get(price, "price"), _expand(params))


def update_price(store, params, price):
    obj = store.get(price, "price")

    def change():
        if "active" in params:
            obj["active"] = boolean(params["active"], "active")
        if "nickname" in params:
            obj["nickname"] = params["nickname"] or None
        if "metadata" in params:
            obj["metadata"] = merge_metadata(obj["metadata"], params["metadata"])
        if "lookup_key" in params:
            obj["lookup_key"] = params["lookup_key"] or None

    flows.changed(store, obj, change, "price.updated")
    return render(store, obj, _expand(params))


def list_prices(store, params, **_):
    lookup_keys = params.get("lookup_keys")
    if isinstance(lookup_keys, str):
        lookup_keys = [lookup_keys]
    active = None if params.get("active") is None else boolean(params["active"], "active")

    def keep(obj):
        return (
            (not lookup_keys or obj["lookup_key"] in lookup_keys)
            and (not params.get("product") or obj["product"] == params["product"])
            and (active is None or obj["active"] == active)
            and (not params.get("type") or obj["type"] == params["type"])
            and (not params.get("currency") or obj["currency"] == params["currency"])
        )

    return _list(store, "price", params, "/v1/prices", keep)


# --- Checkout --------------------------------------------------------------------------------


def create_checkout_session(store, params, **_):
    mode = required(params, "mode")
    if mode != "subscription":
        raise StripeError(
            "The Stripe sandbox supports Checkout in `subscription` mode only.", param="mode"
        )
    success_url = params.get("success_url")
    if not success_url and params.get("ui_mode", "hosted") == "hosted":
        raise StripeError(
            "Missing required param: success_url.", code="parameter_missing", param="success_url"
        )
    line_items = params.get("line_items") or []
    if not line_items:
        raise StripeError(
            "Missing required param: line_items.", code="parameter_missing", param="line_items"
        )
    entries, currency, interval = [], None, None
    for index, entry in enumerate(line_items):
        param = f"line_items[{index}][price]"
        if not isinstance(entry, dict) or not entry.get("price"):
            raise StripeError(
                f"Missing required param: {param}.", code="parameter_missing", param=param
            )
        price = store.get(entry["price"], "price", param=param)
        if not price["active"]:
            raise StripeError(f"The price `{price['id']}` is not active.", param=param)
        if currency and price["currency"] != currency:
            raise StripeError("All prices must use the same currency.", param=param)
        currency = price["currency"]
        metered = bool(price["recurring"]) and price["recurring"]["usage_type"] == "metered"
        quantity = entry.get("quantity")
        if metered and quantity not in (None, ""):
            raise StripeError(
                "Quantity should not be specified where usage_type is `metered`. Remove "
                "quantity from `line_items[0]`.",
                param=f"line_items[{index}][quantity]",
            )
        if not metered:
            quantity = integer(
                quantity if quantity not in (None, "") else 1, f"line_items[{index}][quantity]"
            )
        if price["recurring"]:
            this_interval = (price["recurring"]["interval"], price["recurring"]["interval_count"])
            if interval and this_interval != interval:
                raise StripeError(
                    "Checkout does not support multiple prices with different billing intervals.",
                    param="line_items",
                )
            interval = this_interval
        entries.append({"id": new_id("li_", 24), "price": price["id"], "quantity": quantity})
    if interval is None:
        raise StripeError(
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
            param="line_items",
        )
    customer = params.get("customer") or None
    if customer:
        store.get(customer, "customer", param="customer")
    customer_email = params.get("customer_email") or None
    if customer and customer_email:
        raise StripeError(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
        )
    subscription_data = params.get("subscription_data") or {}
    created = now()
    amount = sum(
        (store.get(entry["price"], "price")["unit_amount"] or 0) * (entry["quantity"] or 0)
        for entry in entries
    )
    session_id = new_id("cs_test_", 58)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id") or None,
        "client_secret": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": customer,
        "customer_creation": None if customer else "always",
        "customer_details": None,
        "customer_email": customer_email,
        "expires_at": integer(params.get("expires_at", created + CHECKOUT_LIFETIME), "expires_at"),
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": metadata(params.get("metadata")),
        "mode": mode,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_details": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{store.public_url}/c/pay/{session_id}",
        "_line_items": entries,
        "_subscription_metadata": metadata(
            subscription_data.get("metadata"), "subscription_data[metadata]"
        ),
    }
    store.add(session)
    return render(store, session, _expand(params))


def retrieve_checkout_session(store, params, session):
    return render(
        store, store.get(session, "checkout.session", label="checkout.session"), _expand(params)
    )


def expire_checkout_session(store, params, session):
    obj = store.get(session, "checkout.session", label="checkout.session")
    objects.expire_if_due(store, obj)
    flows.expire_checkout_session(store, obj)
    return render(store, obj, _expand(params))


def list_checkout_session_line_items(store, params, session):
    obj = store.get(session, "checkout.session", label="checkout.session")
    items = [objects.line_item(store, entry) for entry in obj["_line_items"]]
    return list_object(items, f"/v1/checkout/sessions/{session}/line_items")


def list_checkout_sessions(store, params, **_):
    def keep(obj):
        return (not params.get("customer") or obj["customer"] == params["customer"]) and (
            not params.get("subscription") or obj["subscription"] == params["subscription"]
        )

    return _list(store, "checkout.session", params, "/v1/checkout/sessions", keep)


# --- Billing portal --------------------------------------------------------------------------


def create_portal_session(store, params, **_):
    customer = store.get(required(params, "customer"), "customer", param="customer")
    session_id = new_id("bps_", 24)
    session = {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": PORTAL_CONFIGURATION,
        "created": now(),
        "customer": customer["id"],
        "flow": None,
        "livemode": False,
        "locale": params.get("locale"),
        "on_behalf_of": None,
        "return_url": params.get("return_url"),
        "url": f"{store.public_url}/p/session/{session_id}",
    }
    store.add(session)
    return render(store, session, _expand(params))


# --- Subscriptions ---------------------------------------------------------------------------


def retrieve_subscription(store, params, subscription_exposed_id):
    return render(store, store.get(subscription_exposed_id, "subscription"), _expand(params))


def update_subscription(store, params, subscription_exposed_id):
    obj = store.get(subscription_exposed_id, "subscription")
    if params.get("items"):
        flows.change_item_prices(store, obj, params["items"])
    if "cancel_at_period_end" in params:
        flag = boolean(params["cancel_at_period_end"], "cancel_at_period_end")
        if flag != obj["cancel_at_period_end"]:
            flows.set_cancel_at_period_end(store, obj, flag)
    if "metadata" in params:
        flows.changed(
            store,
            obj,
            lambda: obj.update(metadata=merge_metadata(obj["metadata"], params["metadata"])),
            "customer.subscription.updated",
        )
    return render(store, obj, _expand(params))


def cancel_subscription(store, params, subscription_exposed_id):
    obj = store.get(subscription_exposed_id, "subscription")
    flows.end_subscription(store, obj)
    return render(store, obj, _expand(params))


def list_subscriptions(store, params, **_):
    status = params.get("status")

    def keep(obj):
        if params.get("customer") and obj["customer"] != params["customer"]:
            return False
        if params.get("price") and params["price"] not in [
            item["price"] for item in obj["items"]["data"]
        ]:
            return False
        if status == "all":
            return True
        if status:
            return obj["status"] == status
        return obj["status"] not in ("canceled", "incomplete_expired")

    return _list(store, "subscription", params, "/v1/subscriptions", keep)


# --- Invoices --------------------------------------------------------------------------------


def retrieve_invoice(store, params, invoice):
    return render(store, store.get(invoice, "invoice"), _expand(params))


def list_invoices(store, params, **_):
    def keep(obj):
        return (
            (not params.get("customer") or obj["customer"] == params["customer"])
            and (not params.get("subscription") or obj["subscription"] == params["subscription"])
            and (not params.get("status") or obj["status"] == params["status"])
        )

    return _list(store, "invoice", params, "/v1/invoices", keep)


def pay_invoice(store, params, invoice):
    obj = store.get(invoice, "invoice")
    try:
        flows.attempt_payment(store, obj)
    except flows.CardDeclined as declined:
        raise declined.as_stripe_error() from None
    return render(store, obj, _expand(params))


# --- Billing Meters --------------------------------------------------------------------------


def create_meter(store, params, **_):
    event_name = required(params, "event_name")
    if any(
        m["event_name"] == event_name and m["status"] == "active"
        for m in store.all("billing.meter")
    ):
        raise StripeError(
            f"A meter with event_name `{event_name}` already exists.", param="event_name"
        )
    aggregation = required(params, "default_aggregation")
    formula = required(aggregation, "formula")
    if formula not in ("sum", "count"):
        raise StripeError(
            "Invalid default_aggregation[formula]", param="default_aggregation[formula]"
        )
    mapping = params.get("customer_mapping") or {}
    value_settings = params.get("value_settings") or {}
    obj = objects.meter(
        event_name=event_name,
        display_name=required(params, "display_name"),
        customer_key=mapping.get("event_payload_key", "stripe_customer_id"),
        value_key=value_settings.get("event_payload_key", "value"),
        formula=formula,
    )
    store.add(obj)
    return render(store, obj, _expand(params))


def retrieve_meter(store, params, id):
    return render(store, store.get(id, "billing.meter", label="billing.meter"), _expand(params))


def list_meters(store, params, **_):
    status = params.get("status")
    return _list(
        store,
        "billing.meter",
        params,
        "/v1/billing/meters",
        lambda obj: not status or obj["status"] == status,
    )


def create_meter_event(store, params, **_):
    event_name = required(params, "event_name")
    payload = params.get("payload")
    if not isinstance(payload, dict) or not payload:
        raise StripeError(
            "Missing required param: payload.", code="parameter_missing", param="payload"
        )
    meter = next(
        (
            m
            for m in store.all("billing.meter")
            if m["event_name"] == event_name and m["status"] == "active"
        ),
        None,
    )
    if meter is None:
        raise StripeError(
            f"No active meter was found matching event_name `{event_name}`.",
            param="event_name",
        )
    customer_key = meter["customer_mapping"]["event_payload_key"]
    if customer_key not in payload:
        raise StripeError(
            f"Missing required payload key: {customer_key}.", param=f"payload[{customer_key}]"
        )
    value_key = meter["value_settings"]["event_payload_key"]
    if meter["default_aggregation"]["formula"] == "sum":
        try:
            float(payload.get(value_key, ""))
        except ValueError:
            raise StripeError(
                f"The payload key `{value_key}` must be a number.", param=f"payload[{value_key}]"
            ) from None
    created = now()
    timestamp = integer(params.get("timestamp", created), "timestamp")
    if timestamp < created - 35 * 86400 or timestamp > created + 300:
        raise StripeError(
            "Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.",
            param="timestamp",
        )
    identifier = params.get("identifier") or new_id("", 32)
    # Stripe counts one event per identifier: a repeat is acknowledged, not counted again.
    event = store.meter_events.get(identifier)
    if event is None:
        event = {
            "object": "billing.meter_event",
            "created": created,
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": {str(k): str(v) for k, v in payload.items()},
            "timestamp": timestamp,
        }
        store.meter_events[identifier] = event
        store.touch()
    return dict(event)


def list_meter_event_summaries(store, params, id):
    meter = store.get(id, "billing.meter", label="billing.meter")
    customer = required(params, "customer")
    start = integer(required(params, "start_time"), "start_time")
    end = integer(required(params, "end_time"), "end_time")
    if end <= start:
        raise StripeError("end_time must be after start_time.", param="end_time")
    summary = {
        "id": new_id("mtrusg_", 24),
        "object": "billing.meter_event_summary",
        "aggregated_value": flows.usage_total(store, meter["id"], customer, start, end),
        "end_time": end,
        "livemode": False,
        "meter": meter["id"],
        "start_time": start,
    }
    return list_object([summary], f"/v1/billing/meters/{id}/event_summaries")


# --- Events ----------------------------------------------------------------------------------


def retrieve_event(store, params, id):
    event = store.events.get(id)
    if event is None:
        raise StripeError(f"No such event: '{id}'", status=404, code="resource_missing", param="id")
    return objects.public(event)


def list_events(store, params, **_):
    types = params.get("types") or ([params["type"]] if params.get("type") else None)
    items = [event for event in store.events.values() if not types or event["type"] in types]
    page, has_more = paginate(items, params, "/v1/events")
    return list_object([objects.public(event) for event in page], "/v1/events", has_more=has_more)


# Method, path (as in the OpenAPI spec), handler.
ROUTES = [
    ("POST", "/v1/customers", create_customer),
    ("GET", "/v1/customers", list_customers),
    ("GET", "/v1/customers/{customer}", retrieve_customer),
    ("POST", "/v1/customers/{customer}", update_customer),
    ("POST", "/v1/products", create_product),
    ("GET", "/v1/products", list_products),
    ("GET", "/v1/products/{id}", retrieve_product),
    ("POST", "/v1/products/{id}", update_product),
    ("POST", "/v1/prices", create_price),
    ("GET", "/v1/prices", list_prices),
    ("GET", "/v1/prices/{price}", retrieve_price),
    ("POST", "/v1/prices/{price}", update_price),
    ("POST", "/v1/checkout/sessions", create_checkout_session),
    ("GET", "/v1/checkout/sessions", list_checkout_sessions),
    ("GET", "/v1/checkout/sessions/{session}", retrieve_checkout_session),
    ("POST", "/v1/checkout/sessions/{session}/expire", expire_checkout_session),
    ("GET", "/v1/checkout/sessions/{session}/line_items", list_checkout_session_line_items),
    ("POST", "/v1/billing_portal/sessions", create_portal_session),
    ("GET", "/v1/subscriptions", list_subscriptions),
    ("GET", "/v1/subscriptions/{subscription_exposed_id}", retrieve_subscription),
    ("POST", "/v1/subscriptions/{subscription_exposed_id}", update_subscription),
    ("DELETE", "/v1/subscriptions/{subscription_exposed_id}", cancel_subscription),
    ("GET", "/v1/invoices", list_invoices),
    ("GET", "/v1/invoices/{invoice}", retrieve_invoice),
    ("POST", "/v1/invoices/{invoice}/pay", pay_invoice),
    ("POST", "/v1/billing/meters", create_meter),
    ("GET", "/v1/billing/meters", list_meters),
    ("GET", "/v1/billing/meters/{id}", retrieve_meter),
    ("GET", "/v1/billing/meters/{id}/event_summaries", list_meter_event_summaries),
    ("POST", "/v1/billing/meter_events", create_meter_event),
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{id}", retrieve_event),
]

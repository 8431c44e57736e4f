"""Stripe's objects as the 2024-04-10 API shapes them: builders, the rendering of stored objects
(embedded prices, ``expand[]``), lists with Stripe's pagination, and period arithmetic.

Stored objects are the wire objects with references kept as ids; keys that start with ``_`` are
the sandbox's own bookkeeping and never leave it.
"""

import calendar
import copy
from datetime import UTC, datetime

from smsplatform.sandboxes.stripe.store import StripeError, new_id, now

# Expandable fields whose value is the id of a stored object.
_EXPANDABLE = {
    "customer",
    "subscription",
    "latest_invoice",
    "invoice",
    "product",
    "price",
    "default_price",
}


def money(cents: int | None, currency: str = "usd") -> str:
    if cents is None:
        return "metered"
    symbol = "$" if currency == "usd" else f"{currency.upper()} "
    return f"{symbol}{cents / 100:,.2f}"


def add_interval(timestamp: int, interval: str, count: int = 1) -> int:
    """``timestamp`` moved ``count`` intervals on, keeping the day of the month where it can
    (Jan 31 + 1 month = Feb 28/29), as Stripe's billing cycle anchor does."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    if interval == "day":
        return timestamp + 86400 * count
    if interval == "week":
        return timestamp + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


# --- Builders --------------------------------------------------------------------------------


def customer(*, email=None, name=None, description=None, phone=None, metadata=None) -> dict:
    return {
        "id": new_id("cus_", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": new_id("", 8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata or {},
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
        "_card": None,
    }


def product(*, name, product_id=None, description=None, active=True, metadata=None) -> dict:
    created = now()
    return {
        "id": product_id or new_id("prod_", 14),
        "object": "product",
        "active": active,
        "attributes": [],
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata or {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    *,
    product_id,
    currency,
    unit_amount,
    recurring,
    tiers,
    tiers_mode,
    lookup_key,
    nickname,
    active=True,
    metadata=None,
) -> dict:
    return {
        "id": new_id("price_", 24),
        "object": "price",
        "active": active,
        "billing_scheme": "tiered" if tiers else "per_unit",
        "created": now(),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata or {},
        "nickname": nickname,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": tiers_mode,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        "_tiers": tiers,
    }


def meter(*, event_name, display_name, customer_key, value_key, formula) -> dict:
    created = now()
    return {
        "id": new_id("mtr_", 24),
        "object": "billing.meter",
        "created": created,
        "customer_mapping": {"event_payload_key": customer_key, "type": "by_id"},
        "default_aggregation": {"formula": formula},
        "display_name": display_name,
        "event_name": event_name,
        "event_time_window": None,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": created,
        "value_settings": {"event_payload_key": value_key},
    }


def list_object(items: list[dict], url: str, *, has_more=False, total_count=None) -> dict:
    result = {"object": "list", "data": items, "has_more": has_more, "url": url}
    if total_count is not None:
        result["total_count"] = total_count
    return result


# --- Rendering -------------------------------------------------------------------------------


def public(obj):
    """A stored object as it goes on the wire: without the sandbox's ``_`` bookkeeping."""
    if isinstance(obj, dict):
        return {key: public(value) for key, value in obj.items() if not key.startswith("_")}
    if isinstance(obj, list):
        return [public(item) for item in obj]
    return obj


def render(store, obj: dict, expand=()) -> dict:
    """The wire form of a stored object, with what Stripe always embeds and ``expand``."""
    kind = obj["object"]
    result = copy.deepcopy(obj)
    if kind == "subscription":
        for item in result["items"]["data"]:
            item["price"] = render(store, store.get(item["price"], "price"))
    elif kind == "invoice":
        for line in result["lines"]["data"]:
            line["price"] = render(store, store.get(line["price"], "price"))
    elif kind == "checkout.session":
        expire_if_due(store, obj)
        result.update(status=obj["status"], url=obj["url"])
    wanted = list(expand)
    if kind == "price" and "tiers" in wanted:
        result["tiers"] = obj.get("_tiers") or []
    if kind == "checkout.session" and "line_items" in wanted:
        items = [line_item(store, entry) for entry in obj["_line_items"]]
        result["line_items"] = list_object(items, f"/v1/checkout/sessions/{obj['id']}/line_items")
    result = public(result)
    for path in wanted:
        _expand_path(store, result, path.split("."))
    return result


def _expand_path(store, node, parts):
    if not parts or not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head == "data" and node.get("object") == "list":
        for item in node["data"]:
            _expand_path(store, item, rest)
        return
    value = node.get(head)
    if isinstance(value, str) and head in _EXPANDABLE and value in store.objects:
        node[head] = value = render(store, store.objects[value], _tails(rest))
        return
    if isinstance(value, dict):
        _expand_path(store, value, rest)


def _tails(rest):
    return [".".join(rest)] if rest else []


def line_item(store, entry: dict) -> dict:
    """One Checkout line item (``item`` object)."""
    price_obj = render(store, store.get(entry["price"], "price"))
    quantity = entry.get("quantity")
    amount = (price_obj["unit_amount"] or 0) * (quantity or 0)
    product_obj = store.get(price_obj["product"], "product")
    return {
        "id": entry["id"],
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price_obj["currency"],
        "description": product_obj["name"],
        "price": price_obj,
        "quantity": quantity,
    }


def expire_if_due(store, session: dict) -> None:
    if session["status"] == "open" and now() >= session["expires_at"]:
        from smsplatform.sandboxes.stripe import flows  # flows builds on this module

        flows.expire_checkout_session(store, session)


# --- Lists -----------------------------------------------------------------------------------


def paginate(items: list[dict], params: dict, url: str) -> tuple[list[dict], bool]:
    """Newest first, ``limit`` (1-100, default 10), ``starting_after`` / ``ending_before``."""
    limit = integer(params.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise StripeError(
            "Invalid limit: must be between 1 and 100",
            code="parameter_invalid_integer",
            param="limit",
        )
    # Ties (the same second) keep creation order, newest first.
    ordered = sorted(reversed(items), key=lambda obj: obj.get("created", 0), reverse=True)
    if params.get("starting_after"):
        ids = [obj["id"] for obj in ordered]
        if params["starting_after"] not in ids:
            raise StripeError(
                f"No such object: '{params['starting_after']}'",
                status=404,
                code="resource_missing",
                param="starting_after",
            )
        ordered = ordered[ids.index(params["starting_after"]) + 1 :]
    elif params.get("ending_before"):
        ids = [obj["id"] for obj in ordered]
        if params["ending_before"] in ids:
            ordered = ordered[: ids.index(params["ending_before"])][-limit:]
    return ordered[:limit], len(ordered) > limit


# --- Parameter parsing (form values arrive as strings) ---------------------------------------


def integer(value, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(
            f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None


def boolean(value, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise StripeError(f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param)


def required(params: dict, name: str):
    value = params.get(name)
    if value in (None, ""):
        raise StripeError(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return value


def metadata(value, param="metadata") -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise StripeError("Invalid hash", code="parameter_invalid_string", param=param)
    return {str(key): str(item) for key, item in value.items()}


def merge_metadata(current: dict, update) -> dict:
    """Stripe merges metadata updates; an empty value removes the key."""
    if update == "":
        return {}
    merged = dict(current)
    for key, value in metadata(update).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged

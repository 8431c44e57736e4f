"""Segments: a small rule language over contacts, compiled to one SQL WHERE clause.

    {"match": "all" | "any",
     "conditions": [{"field": ..., "op": ..., "value": ...}, ...]}

Fields and their operators:
    status             is, is_not             subscribed | pending | unsubscribed | none
    tag                has, has_not                         tag name
    list               in, not_in                           list id
    first_name, last_name, email, phone
                       equals, contains, starts_with, is_empty, is_not_empty
    custom:<key>       text:   equals, contains, is_empty, is_not_empty
                       number: equals, gt, lt, is_empty, is_not_empty
                       date:   on, before, after, is_empty, is_not_empty
    created            before, after (date), within_days, more_than_days_ago (N)
    received_campaign  within_days, not_within_days (N), never
    replied            within_days, not_within_days (N), ever, never

Rules are validated (``validate_rules``) before they are saved, with a message naming the bad
condition; evaluation never scans the messages table (engagement is kept on the contact).
"""

import datetime as dt
from functools import reduce
from operator import and_, or_

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from messaging.models import Contact, ContactListMembership, CustomField

TEXT_FIELDS = ("first_name", "last_name", "email", "phone")
TEXT_OPS = ("equals", "contains", "starts_with", "is_empty", "is_not_empty")
OPS = {
    "status": ("is", "is_not"),
    "tag": ("has", "has_not"),
    "list": ("in", "not_in"),
    "created": ("before", "after", "within_days", "more_than_days_ago"),
    "received_campaign": ("within_days", "not_within_days", "never"),
    "replied": ("within_days", "not_within_days", "ever", "never"),
    **dict.fromkeys(TEXT_FIELDS, TEXT_OPS),
}
CUSTOM_OPS = {
    CustomField.Type.TEXT: ("equals", "contains", "is_empty", "is_not_empty"),
    CustomField.Type.NUMBER: ("equals", "gt", "lt", "is_empty", "is_not_empty"),
    CustomField.Type.DATE: ("on", "before", "after", "is_empty", "is_not_empty"),
}
_NO_VALUE = ("is_empty", "is_not_empty", "never", "ever")


def validate_rules(rules) -> dict:
    """Return the rules in canonical form, or raise ValidationError naming what is wrong."""
    if not isinstance(rules, dict):
        raise ValidationError("Segment rules must be an object.")
    match = rules.get("match", "all")
    if match not in ("all", "any"):
        raise ValidationError("Match must be 'all' or 'any'.")
    conditions = rules.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise ValidationError("Add at least one condition.")
    custom_types = dict(CustomField.objects.values_list("key", "type"))
    clean = []
    for number, condition in enumerate(conditions, start=1):
        try:
            clean.append(_validate_condition(condition, custom_types))
        except ValidationError as exc:
            raise ValidationError(f"Condition {number}: {exc.messages[0]}") from None
    return {"match": match, "conditions": clean}


def _validate_condition(condition, custom_types) -> dict:
    if not isinstance(condition, dict):
        raise ValidationError("must be an object")
    field, op, value = condition.get("field"), condition.get("op"), condition.get("value")
    if isinstance(field, str) and field.startswith("custom:"):
        key = field.removeprefix("custom:")
        if key not in custom_types:
            raise ValidationError(f"there is no custom field {key!r}")
        allowed = CUSTOM_OPS[custom_types[key]]
    elif field in OPS:
        allowed = OPS[field]
    else:
        raise ValidationError(f"unknown field {field!r}")
    if op not in allowed:
        raise ValidationError(f"{field} cannot use {op!r} (use one of: {', '.join(allowed)})")
    if op in _NO_VALUE:
        return {"field": field, "op": op}
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"{field} {op} needs a value")
    if op in ("within_days", "not_within_days", "more_than_days_ago") or field == "list":
        value = _positive_int(value)
    elif field == "status" and value not in Contact.Status.values:
        raise ValidationError(f"unknown status {value!r}")
    elif op in ("before", "after", "on"):
        value = _iso_date(value)
    elif op in ("gt", "lt") or (
        field.startswith("custom:")
        and custom_types.get(field.removeprefix("custom:")) == CustomField.Type.NUMBER
    ):
        value = _number(value)
    else:
        value = str(value).strip()
    return {"field": field, "op": op, "value": value}


def _positive_int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{value!r} is not a whole number") from None
    if number < 0 or number > 100_000:
        raise ValidationError(f"{number} is out of range")
    return number


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{value!r} is not a number") from None
    return int(number) if number.is_integer() else number


def _iso_date(value) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def to_q(rules) -> Q:
    """The WHERE clause for validated rules."""
    parts = [_condition_q(c) for c in rules["conditions"]]
    return reduce(and_ if rules.get("match", "all") == "all" else or_, parts)


def contacts_matching(rules):
    return Contact.objects.filter(to_q(rules))


def _days_ago(days: int):
    return timezone.now() - dt.timedelta(days=days)


def _condition_q(condition) -> Q:
    field, op, value = condition["field"], condition["op"], condition.get("value")
    if field == "status":
        q = Q(status=value)
        return q if op == "is" else ~q
    if field == "tag":
        q = Q(tags__contains=[str(value).lower()])
        return q if op == "has" else ~q
    if field == "list":
        members = ContactListMembership.objects.filter(contact_list_id=value).values("contact_id")
        q = Q(id__in=members)
        return q if op == "in" else ~q
    if field in TEXT_FIELDS:
        return _text_q(field, op, value)
    if field.startswith("custom:"):
        return _custom_q(field.removeprefix("custom:"), op, value)
    if field == "created":
        if op == "before":
            return Q(created_at__date__lt=value)
        if op == "after":
            return Q(created_at__date__gt=value)
        if op == "within_days":
            return Q(created_at__gte=_days_ago(value))
        return Q(created_at__lt=_days_ago(value))
    column = {"received_campaign": "last_campaign_at", "replied": "last_replied_at"}[field]
    if op == "within_days":
        return Q(**{f"{column}__gte": _days_ago(value)})
    if op == "not_within_days":
        return Q(**{f"{column}__lt": _days_ago(value)}) | Q(**{f"{column}__isnull": True})
    if op == "ever":
        return Q(**{f"{column}__isnull": False})
    return Q(**{f"{column}__isnull": True})


def _text_q(field, op, value) -> Q:
    if op == "is_empty":
        return Q(**{field: ""})
    if op == "is_not_empty":
        return ~Q(**{field: ""})
    lookup = {"equals": "iexact", "contains": "icontains", "starts_with": "istartswith"}[op]
    return Q(**{f"{field}__{lookup}": value})


def _custom_q(key, op, value) -> Q:
    path = f"custom_fields__{key}"
    if op == "is_empty":
        return ~Q(custom_fields__has_key=key)
    if op == "is_not_empty":
        return Q(custom_fields__has_key=key)
    lookup = {
        "equals": "exact", "contains": "icontains", "gt": "gt", "lt": "lt",
        "on": "exact", "before": "lt", "after": "gt",
    }[op]  # fmt: skip
    return Q(**{f"{path}__{lookup}": value})

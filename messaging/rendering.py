"""Filling placeholders in texts the organization writes. Only known {names} are replaced; the
text is never passed to str.format, which would let a template reach into Python objects."""

import re

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_-]*)\}")


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def compliance_text(template: str, *, organization, support_contact: str = "") -> str:
    """A keyword reply or disclosure, with {business} and {contact} filled in."""
    contact = f" or {support_contact}" if support_contact else ""
    return fill_placeholders(template, {"business": organization.name, "contact": contact})


_MERGE_FIELD = re.compile(r"\{([a-z_][a-z0-9_-]*)(?:\|([^{}]{0,60}))?\}")
BUILT_IN_FIELDS = ("first_name", "last_name", "full_name", "business")


def merge_fields_in(template: str) -> list[str]:
    """The merge field names a campaign text uses, in order."""
    return [m.group(1) for m in _MERGE_FIELD.finditer(template or "")]


def unknown_merge_fields(template: str, custom_keys) -> list[str]:
    known = set(BUILT_IN_FIELDS) | set(custom_keys)
    return [name for name in merge_fields_in(template) if name not in known]


def render_merge_fields(template: str, values: dict) -> str:
    """Fill {first_name}, {custom_key} and the like, with {name|fallback} for empty values."""

    def fill(match):
        value = values.get(match.group(1))
        if value is None or value == "":
            return match.group(2) if match.group(2) is not None else ""
        return str(value)

    return _MERGE_FIELD.sub(fill, template or "")


def contact_values(contact, business: str) -> dict:
    return {
        **(contact.custom_fields or {}),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.full_name,
        "business": business,
    }

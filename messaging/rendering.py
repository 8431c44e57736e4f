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

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()


@register.filter
def dollars(cents) -> str:
    """Integer cents as dollars: 15000 -> "$150", 59750 -> "$597.50"."""
    if cents is None:
        return ""
    whole, part = divmod(abs(int(cents)), 100)
    sign = "-" if int(cents) < 0 else ""
    amount = intcomma(whole) + (f".{part:02d}" if part else "")
    return f"{sign}${amount}"

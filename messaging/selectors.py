"""Reads for the contact pages: search, filters and keyset pagination that stay fast at a
million contacts (no OFFSET, no unbounded COUNT)."""

import re
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery
from django.db.models import Q
from django.db.models.functions import Reverse

from messaging.models import Contact, ContactListMembership, Segment
from messaging.phones import InvalidPhone, parse_phone
from messaging.segments import to_q

PAGE_SIZE = 50
# Counting stops here: "10,000+" is as useful as the exact number, and costs nothing.
COUNT_CAP = 10_000
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass
class ContactFilter:
    q: str = ""
    tag: str = ""
    list_id: int | None = None
    segment_id: int | None = None
    status: str = ""
    errors: list = field(default_factory=list)

    @classmethod
    def from_params(cls, params):
        def as_int(name):
            value = params.get(name, "")
            return int(value) if value.isdigit() else None

        status = params.get("status", "")
        return cls(
            q=params.get("q", "").strip()[:100],
            tag=params.get("tag", "").strip().lower(),
            list_id=as_int("list"),
            segment_id=as_int("segment"),
            status=status if status in Contact.Status.values else "",
        )

    @property
    def active(self):
        return bool(self.q or self.tag or self.list_id or self.segment_id or self.status)


def search_q(term: str, default_region: str) -> Q:
    """A phone number (whole or its last digits) or words of a name or email (as prefixes)."""
    digits = re.sub(r"\D", "", term)
    if digits and len(digits) >= 3 and len(digits) >= len(re.sub(r"[\s()+.\-]", "", term)):
        try:
            return Q(phone=parse_phone(term, default_region).e164)
        except InvalidPhone:
            return Q(phone_reversed__startswith=digits[::-1])
    words = _WORD.findall(term.lower())
    if not words:
        return Q(pk__in=[])
    query = " & ".join(f"{word}:*" for word in words[:6])
    return Q(search_document=SearchQuery(query, search_type="raw", config="simple"))


def filter_contacts(contact_filter: ContactFilter, default_region: str = "US"):
    contacts = Contact.objects.all()
    if contact_filter.q:
        contacts = contacts.annotate(phone_reversed=Reverse("phone")).filter(
            search_q(contact_filter.q, default_region)
        )
    if contact_filter.status:
        contacts = contacts.filter(status=contact_filter.status)
    if contact_filter.tag:
        contacts = contacts.filter(tags__contains=[contact_filter.tag])
    if contact_filter.list_id:
        members = ContactListMembership.objects.filter(contact_list_id=contact_filter.list_id)
        contacts = contacts.filter(id__in=members.values("contact_id"))
    if contact_filter.segment_id:
        segment = Segment.objects.filter(pk=contact_filter.segment_id).first()
        contacts = contacts.filter(to_q(segment.rules)) if segment else contacts.none()
    return contacts


@dataclass
class Page:
    items: list
    next_cursor: int | None
    previous_cursor: int | None


def keyset_page(contacts, *, after: int | None = None, before: int | None = None) -> Page:
    """Newest first, PAGE_SIZE at a time, positioned by id rather than by OFFSET."""
    if before is not None:
        rows = list(contacts.filter(id__gt=before).order_by("id")[: PAGE_SIZE + 1])
        has_more_newer = len(rows) > PAGE_SIZE
        items = list(reversed(rows[:PAGE_SIZE]))
        return Page(
            items=items,
            next_cursor=items[-1].id if items else None,
            previous_cursor=items[0].id if items and has_more_newer else None,
        )
    if after is not None:
        contacts = contacts.filter(id__lt=after)
    rows = list(contacts.order_by("-id")[: PAGE_SIZE + 1])
    items = rows[:PAGE_SIZE]
    return Page(
        items=items,
        next_cursor=items[-1].id if len(rows) > PAGE_SIZE else None,
        previous_cursor=items[0].id if items and after is not None else None,
    )


def capped_count(queryset, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, capped): counts at most ``cap`` + 1 rows."""
    count = queryset.order_by()[: cap + 1].count()
    return min(count, cap), count > cap

"""Domain functions for contacts, consent, tags and lists. They run in the current
organization's schema (the request's or the task's) and are the only code that changes this
state."""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from messaging.models import (
    ComplianceSettings,
    ConsentEvent,
    Contact,
    ContactList,
    ContactListMembership,
    CustomField,
    Tag,
)
from messaging.phones import InvalidPhone, parse_phone

_STATUS_AFTER = {
    ConsentEvent.Kind.OPT_IN: Contact.Status.SUBSCRIBED,
    ConsentEvent.Kind.OPT_OUT: Contact.Status.UNSUBSCRIBED,
    ConsentEvent.Kind.CONFIRMATION_REQUESTED: Contact.Status.PENDING,
}


def current_organization():
    return connection.tenant


def compliance_settings() -> ComplianceSettings:
    settings_row, _ = ComplianceSettings.objects.get_or_create(pk=1)
    return settings_row


# --- consent ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consent:
    """How an opt-in was obtained, as evidence."""

    method: str
    wording: str = ""
    source: str = ""
    ip_address: str | None = None
    occurred_at: dt.datetime | None = None


@transaction.atomic
def record_consent(contact: Contact, kind: str, consent: Consent, *, actor=None) -> ConsentEvent:
    """Append a consent event and move the contact's status with it, in one transaction."""
    occurred_at = consent.occurred_at or timezone.now()
    event = ConsentEvent.objects.create(
        contact=contact,
        phone=contact.phone,
        kind=kind,
        method=consent.method,
        wording=consent.wording,
        source=consent.source[:255],
        ip_address=consent.ip_address,
        actor=actor if actor is not None and actor.is_authenticated else None,
        occurred_at=occurred_at,
    )
    latest = ConsentEvent.objects.filter(contact=contact).order_by("-occurred_at", "-id").first()
    status = _STATUS_AFTER[latest.kind]
    if contact.status != status:
        contact.status = status
        contact.status_changed_at = occurred_at
        Contact.objects.filter(pk=contact.pk).update(status=status, status_changed_at=occurred_at)
    return event


def record_opt_out(contact: Contact, consent: Consent, *, actor=None) -> bool:
    """Opt the contact out. Returns whether this changed anything (a second STOP does not)."""
    was_unsubscribed = contact.status == Contact.Status.UNSUBSCRIBED
    record_consent(contact, ConsentEvent.Kind.OPT_OUT, consent, actor=actor)
    return not was_unsubscribed


def record_opt_in(contact: Contact, consent: Consent, *, actor=None) -> bool:
    was_subscribed = contact.status == Contact.Status.SUBSCRIBED
    record_consent(contact, ConsentEvent.Kind.OPT_IN, consent, actor=actor)
    return not was_subscribed


def opted_out_phones(phones) -> set[str]:
    """The numbers among ``phones`` whose latest consent event is an opt-out, even for contacts
    since deleted: an import's "declared consent" never overrides a person's STOP."""
    phones = list(phones)
    if not phones:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (phone) phone, kind
            FROM messaging_consentevent
            WHERE phone = ANY(%s)
            ORDER BY phone, occurred_at DESC, id DESC
            """,
            [phones],
        )
        return {phone for phone, kind in cursor.fetchall() if kind == ConsentEvent.Kind.OPT_OUT}


# --- contacts ---------------------------------------------------------------------------------


def normalize_phone(raw: str):
    """Parse with the organization's country as the default; raises ValidationError."""
    try:
        return parse_phone(raw, current_organization().country)
    except InvalidPhone as exc:
        raise ValidationError({"phone": exc.reason}, code="invalid_phone") from None


def normalize_tags(names) -> list[str]:
    seen, result = set(), []
    for name in names or ():
        tag = " ".join(str(name).split()).lower()[:50]
        if tag and tag not in seen:
            seen.add(tag)
            result.append(tag)
    return result


def coerce_custom_fields(values: dict) -> dict:
    """Check values against the organization's custom field definitions and store each in its
    type (numbers as numbers, dates as ISO dates). Unknown keys are refused."""
    definitions = {field.key: field for field in CustomField.objects.all()}
    result, errors = {}, {}
    for key, raw in (values or {}).items():
        field = definitions.get(key)
        if field is None:
            errors[key] = f"There is no custom field called {key!r}."
            continue
        try:
            value = coerce_custom_value(field.type, raw)
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        if value is not None:
            result[key] = value
    if errors:
        raise ValidationError({"custom_fields": [f"{k}: {v}" for k, v in errors.items()]})
    return result


def coerce_custom_value(field_type: str, raw):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if field_type == CustomField.Type.NUMBER:
        try:
            number = float(str(raw).replace(",", "").strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        return int(number) if number.is_integer() else number
    if field_type == CustomField.Type.DATE:
        if isinstance(raw, dt.date):
            return raw.isoformat()
        text = str(raw).strip()
        for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y", "%b %d, %Y", "%B %d, %Y"):
            try:
                return dt.datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        raise ValueError(f"{raw!r} is not a date (use YYYY-MM-DD)")
    return str(raw).strip()[:500]


@transaction.atomic
def create_contact(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    tags=(),
    custom_fields=None,
    timezone_name: str = "",
    consent: Consent | None = None,
    actor=None,
) -> Contact:
    """Create a contact; with ``consent``, record the opt-in it came with."""
    parsed = normalize_phone(phone)
    tags = normalize_tags(tags)
    contact = Contact(
        phone=parsed.e164,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        tags=tags,
        custom_fields=coerce_custom_fields(custom_fields or {}),
        timezone=timezone_name or parsed.timezone,
        timezone_is_manual=bool(timezone_name),
        region=parsed.region,
    )
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        raise ValidationError(
            {"phone": "A contact with this phone number already exists."}, code="duplicate"
        ) from None
    ensure_tags(tags)
    if consent is not None:
        if consent.method != ConsentEvent.Method.CARRIER and parsed.e164 in opted_out_phones(
            [parsed.e164]
        ):
            raise ValidationError(
                {"phone": "This number opted out before. Only they can opt in again (START)."},
                code="opted_out",
            )
        record_consent(contact, ConsentEvent.Kind.OPT_IN, consent, actor=actor)
    return contact


@transaction.atomic
def update_contact(contact: Contact, *, actor=None, **changes) -> Contact:
    if "phone" in changes and changes["phone"] != contact.phone:
        parsed = normalize_phone(changes.pop("phone"))
        contact.phone, contact.region = parsed.e164, parsed.region
        if not contact.timezone_is_manual:
            contact.timezone = parsed.timezone
    else:
        changes.pop("phone", None)
    if "timezone_name" in changes:
        zone = changes.pop("timezone_name")
        contact.timezone = zone or contact.timezone
        contact.timezone_is_manual = bool(zone)
    if "tags" in changes:
        contact.tags = normalize_tags(changes.pop("tags"))
        ensure_tags(contact.tags)
    if "custom_fields" in changes:
        contact.custom_fields = coerce_custom_fields(changes.pop("custom_fields"))
    for field in ("first_name", "last_name", "email"):
        if field in changes:
            setattr(contact, field, (changes.pop(field) or "").strip())
    if changes:
        raise TypeError(f"Unknown contact fields: {', '.join(changes)}")
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        raise ValidationError(
            {"phone": "A contact with this phone number already exists."}, code="duplicate"
        ) from None
    return contact


# Longer than any statement that adds memberships or consent events runs (an import's chunk, an
# "add to list"): one that read a contact just before it was deleted has ended by then.
ORPHAN_SWEEP_DELAY_SECONDS = 60


def delete_contact(contact: Contact) -> None:
    """Delete a contact. Its consent events stay (with the phone number), so an opt-out is never
    forgotten."""
    from messaging.tasks import forget_deleted_contact

    contact_id = contact.pk
    contact.delete()
    transaction.on_commit(
        lambda: forget_deleted_contact.apply_async(
            (contact_id,), countdown=ORPHAN_SWEEP_DELAY_SECONDS
        )
    )


def forget_deleted_contact(contact_id: int) -> int:
    """What the delete could not see: memberships and consent events that an import or an "add
    to list" added for this contact while it was being deleted (they have no database
    constraint, see ContactListMembership). The memberships go, the consent events keep their
    phone and lose the contact, as Django does at the delete. Returns how many rows changed."""
    if Contact.objects.filter(pk=contact_id).exists():
        return 0
    removed, _ = ContactListMembership.objects.filter(contact_id=contact_id).delete()
    unlinked = ConsentEvent.objects.filter(contact_id=contact_id).update(contact=None)
    return removed + unlinked


# --- tags and lists ---------------------------------------------------------------------------


def ensure_tags(names) -> None:
    names = normalize_tags(names)
    if names:
        Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)


def add_tag(contacts, name: str) -> int:
    """Tag every contact of the queryset, in one statement. Returns how many changed."""
    (tag,) = normalize_tags([name]) or [None]
    if tag is None:
        raise ValidationError("Enter a tag name.")
    ensure_tags([tag])
    with connection.cursor() as cursor:
        sql, params = contacts.exclude(tags__contains=[tag]).values("id").query.sql_with_params()
        cursor.execute(
            f"UPDATE messaging_contact SET tags = array_append(tags, %s), updated_at = now() "  # noqa: S608
            f"WHERE id IN ({sql})",
            [tag, *params],
        )
        return cursor.rowcount


def remove_tag(contacts, name: str) -> int:
    (tag,) = normalize_tags([name]) or [None]
    with connection.cursor() as cursor:
        sql, params = contacts.filter(tags__contains=[tag]).values("id").query.sql_with_params()
        cursor.execute(
            f"UPDATE messaging_contact SET tags = array_remove(tags, %s), updated_at = now() "  # noqa: S608
            f"WHERE id IN ({sql})",
            [tag, *params],
        )
        return cursor.rowcount


@transaction.atomic
def delete_tag(tag: Tag) -> int:
    removed = remove_tag(Contact.objects.all(), tag.name)
    tag.delete()
    return removed


def add_to_list(contact_list: ContactList, contacts) -> int:
    """Add every contact of the queryset to the list, in one statement."""
    with connection.cursor() as cursor:
        sql, params = contacts.values("id").query.sql_with_params()
        cursor.execute(
            f"""
            INSERT INTO messaging_contactlistmembership (contact_list_id, contact_id, added_at)
            SELECT %s, c.id, now() FROM ({sql}) AS c
            ON CONFLICT (contact_list_id, contact_id) DO NOTHING
            """,  # noqa: S608 - sql is Django's own compiled queryset
            [contact_list.pk, *params],
        )
        return cursor.rowcount


def remove_from_list(contact_list: ContactList, contacts) -> int:
    deleted, _ = ContactListMembership.objects.filter(
        contact_list=contact_list, contact__in=contacts.values("id")
    ).delete()
    return deleted

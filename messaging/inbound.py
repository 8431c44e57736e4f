"""Texts from subscribers, and sign-ups from the public page. Compliance keywords are handled
before anything else: STOP and its variants, START, HELP, the join keywords and the double
opt-in confirmation. Each keyword gets its reply exactly once: the reply is written in the same
transaction as the inbound text, which is unique by its Twilio SID."""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from a2p.selectors import primary_number
from messaging import services
from messaging.keywords import Intent, Keyword, classify
from messaging.media import contact_card_url
from messaging.models import ConsentEvent, Contact, Message
from messaging.outbox import queue_message
from messaging.phones import InvalidPhone, parse_phone
from messaging.rendering import compliance_text

Status = Contact.Status
KEYWORD = ConsentEvent.Method.KEYWORD


@dataclass
class InboundResult:
    message: Message | None
    keyword: Keyword | None = None
    replies: list = field(default_factory=list)
    duplicate: bool = False


def receive_inbound_text(
    *, sid: str, from_phone: str, to_phone: str, body: str, media_urls=()
) -> InboundResult:
    try:
        with transaction.atomic():
            return _receive(sid, from_phone, to_phone, body, list(media_urls))
    except IntegrityError:
        # The same webhook delivered twice at once: the other delivery handled it.
        return InboundResult(message=None, duplicate=True)


def _receive(sid, from_phone, to_phone, body, media_urls) -> InboundResult:
    if Message.objects.filter(sid=sid).exists():
        return InboundResult(message=None, duplicate=True)
    contact = _contact_for(from_phone)
    now = timezone.now()
    message = Message.objects.create(
        direction=Message.Direction.INBOUND,
        kind=Message.Kind.CONVERSATION,
        contact=contact,
        from_phone=contact.phone,
        to_phone=to_phone,
        body=body,
        media_urls=media_urls,
        sid=sid,
        status=Message.Status.RECEIVED,
        status_changed_at=now,
    )
    Contact.objects.filter(pk=contact.pk).update(last_replied_at=now)
    result = InboundResult(message=message)
    settings_row = services.compliance_settings()
    keyword = classify(
        body,
        join_keywords=["JOIN", *settings_row.join_keywords],
        awaiting_confirmation=contact.status == Status.PENDING,
    )
    if keyword is not None:
        result.keyword, result.replies = keyword, _apply(keyword, contact, to_phone, settings_row)
    return result


def _contact_for(phone: str) -> Contact:
    contact = Contact.objects.filter(phone=phone).first()
    if contact is not None:
        return contact
    try:
        parsed = parse_phone(phone, services.current_organization().country)
        extra = {"phone": parsed.e164, "region": parsed.region, "timezone": parsed.timezone}
    except InvalidPhone:  # short codes and the like: keep what the carrier sent
        extra = {"phone": phone}
    contact, _ = Contact.objects.get_or_create(phone=extra.pop("phone"), defaults=extra)
    return contact


def _apply(keyword: Keyword, contact: Contact, our_number: str, settings_row) -> list[Message]:
    organization = services.current_organization()

    def reply(template, media_urls=()):
        body = compliance_text(
            template, organization=organization, support_contact=settings_row.support_contact
        )
        return [
            queue_message(
                contact=contact,
                to_phone=contact.phone,
                from_phone=our_number,
                body=body,
                kind=Message.Kind.AUTO_REPLY,
                media_urls=media_urls,
            )
        ]

    evidence = services.Consent(method=KEYWORD, source=keyword.text)
    intent = keyword.intent
    if intent == Intent.OPT_OUT:
        # One confirmation only: a second STOP from someone already out gets no reply.
        changed = services.record_opt_out(contact, evidence)
        return reply(settings_row.opt_out_reply) if changed else []
    if intent == Intent.HELP:
        return reply(settings_row.help_reply)
    if intent == Intent.OPT_IN:
        if contact.status == Status.UNSUBSCRIBED:
            services.record_opt_in(contact, evidence)
            return reply(settings_row.opt_in_reply)
        if contact.status == Status.SUBSCRIBED:
            return reply(settings_row.opt_in_reply) if keyword.text != "yes" else []
        if keyword.text == "yes":  # a "yes" from someone who never subscribed is conversation
            return []
        intent = Intent.JOIN  # START from someone who never subscribed: the join flow
    if intent == Intent.JOIN:
        if contact.status == Status.SUBSCRIBED:
            return reply(settings_row.welcome_message)
        prompt = compliance_text(
            settings_row.confirmation_prompt,
            organization=organization,
            support_contact=settings_row.support_contact,
        )
        services.record_consent(
            contact,
            ConsentEvent.Kind.CONFIRMATION_REQUESTED,
            services.Consent(method=KEYWORD, source=keyword.text, wording=prompt),
        )
        return reply(settings_row.confirmation_prompt)
    if intent == Intent.CONFIRM:
        last_prompt = (
            ConsentEvent.objects.filter(
                contact=contact, kind=ConsentEvent.Kind.CONFIRMATION_REQUESTED
            )
            .order_by("-occurred_at", "-id")
            .first()
        )
        services.record_opt_in(
            contact,
            services.Consent(
                method=KEYWORD,
                source=keyword.text,
                wording=last_prompt.wording if last_prompt else "",
            ),
        )
        card = [contact_card_url(organization)] if settings_row.attach_contact_card else []
        return reply(settings_row.welcome_message, media_urls=card)
    return []


@transaction.atomic
def request_web_signup(
    *, phone: str, first_name: str, disclosure: str, page_url: str, ip_address: str | None
) -> Contact:
    """Someone entered their number on the public sign-up page: record the disclosure they saw
    and text them to confirm (double opt-in, so nobody can subscribe somebody else)."""
    parsed = services.normalize_phone(phone)
    contact, created = Contact.objects.get_or_create(
        phone=parsed.e164,
        defaults={
            "first_name": first_name.strip()[:80],
            "region": parsed.region,
            "timezone": parsed.timezone,
        },
    )
    if not created and first_name and not contact.first_name:
        contact.first_name = first_name.strip()[:80]
        contact.save(update_fields=["first_name", "updated_at"])
    if contact.status == Status.SUBSCRIBED:
        return contact
    settings_row = services.compliance_settings()
    organization = services.current_organization()
    services.record_consent(
        contact,
        ConsentEvent.Kind.CONFIRMATION_REQUESTED,
        services.Consent(
            method=ConsentEvent.Method.WEB_FORM,
            wording=disclosure,
            source=page_url,
            ip_address=ip_address,
        ),
    )
    number = primary_number(organization)
    queue_message(
        contact=contact,
        to_phone=contact.phone,
        from_phone=number.phone_number if number else "",
        body=compliance_text(
            settings_row.confirmation_prompt,
            organization=organization,
            support_contact=settings_row.support_contact,
        ),
        kind=Message.Kind.AUTO_REPLY,
    )
    return contact

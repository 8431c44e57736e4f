"""Inbound texts: compliance keywords first, one reply each, consent recorded as evidence."""

import itertools

import pytest

from messaging.inbound import receive_inbound_text, request_web_signup
from messaging.models import ConsentEvent, Contact, Message
from messaging.services import compliance_settings
from tests.messaging.conftest import new_phone

OUR_NUMBER = "+13055550100"
_sids = itertools.count(1)


def text(from_phone, body, sid=None):
    return receive_inbound_text(
        sid=sid or f"SM{next(_sids):032x}", from_phone=from_phone, to_phone=OUR_NUMBER, body=body
    )


def replies_to(phone):
    return list(Message.objects.filter(to_phone=phone, kind=Message.Kind.AUTO_REPLY).order_by("id"))


def test_stop_unsubscribes_records_the_event_and_confirms_once(make_contact):
    contact = make_contact()

    result = text(contact.phone, "Stop please")

    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED
    event = contact.consent_events.first()
    assert (event.kind, event.method, event.source) == ("opt_out", "keyword", "stop please")
    (reply,) = replies_to(contact.phone)
    assert "Acme Boutique" in reply.body and "no more messages" in reply.body
    assert (reply.from_phone, reply.status) == (OUR_NUMBER, Message.Status.PENDING)
    assert result.message.body == "Stop please"


def test_a_second_stop_gets_no_second_confirmation(make_contact):
    contact = make_contact()
    text(contact.phone, "STOP")
    text(contact.phone, "stop")
    assert len(replies_to(contact.phone)) == 1
    assert contact.consent_events.filter(kind="opt_out").count() == 2


def test_the_same_webhook_delivered_twice_is_handled_once(make_contact):
    contact = make_contact()
    first = text(contact.phone, "STOP", sid="SM" + "a" * 32)
    again = text(contact.phone, "STOP", sid="SM" + "a" * 32)
    assert again.duplicate and not first.duplicate
    assert len(replies_to(contact.phone)) == 1
    assert Message.objects.filter(sid="SM" + "a" * 32).count() == 1


def test_start_after_stop_resubscribes_with_a_confirmation(make_contact):
    contact = make_contact()
    text(contact.phone, "STOP")
    text(contact.phone, "START")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.SUBSCRIBED
    assert "subscribed again" in replies_to(contact.phone)[-1].body


def test_help_gets_the_help_text_naming_the_business(make_contact):
    settings_row = compliance_settings()
    settings_row.support_contact = "hello@acme.test"
    settings_row.save()
    contact = make_contact()
    text(contact.phone, "HELP")
    (reply,) = replies_to(contact.phone)
    assert "Acme Boutique" in reply.body and "hello@acme.test" in reply.body
    assert "STOP" in reply.body
    contact.refresh_from_db()
    assert contact.status == Contact.Status.SUBSCRIBED


def test_join_from_a_new_number_asks_to_confirm_then_y_subscribes(in_acme):
    phone = new_phone()

    text(phone, "JOIN")
    contact = Contact.objects.get(phone=phone)
    assert contact.status == Contact.Status.PENDING
    prompt = replies_to(phone)[0].body
    assert "Reply Y" in prompt

    text(phone, "Y")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.SUBSCRIBED
    opt_in = contact.consent_events.get(kind="opt_in")
    assert (opt_in.method, opt_in.wording) == ("keyword", prompt)
    assert "you are subscribed" in replies_to(phone)[-1].body


def test_custom_join_keywords(in_acme):
    settings_row = compliance_settings()
    settings_row.join_keywords = ["ROSES"]
    settings_row.save()
    phone = new_phone()
    text(phone, "roses")
    assert Contact.objects.get(phone=phone).status == Contact.Status.PENDING


def test_yes_from_someone_who_never_subscribed_is_just_a_message(in_acme):
    phone = new_phone()
    result = text(phone, "yes")
    assert result.keyword is not None  # recognised...
    assert replies_to(phone) == []  # ...but neither subscribes them nor replies
    assert Contact.objects.get(phone=phone).status == Contact.Status.NONE


def test_ordinary_texts_are_stored_for_the_conversation(make_contact):
    contact = make_contact()
    result = text(contact.phone, "Do you have the blue dress in size 8?")
    assert result.keyword is None and replies_to(contact.phone) == []
    contact.refresh_from_db()
    assert contact.last_replied_at is not None
    assert contact.messages.get().direction == Message.Direction.INBOUND


def test_replies_are_sent_only_after_the_transaction_commits(
    make_contact, django_capture_on_commit_callbacks
):
    contact = make_contact()
    with django_capture_on_commit_callbacks() as callbacks:
        text(contact.phone, "HELP")
    assert len(callbacks) == 1


def test_web_sign_up_records_the_disclosure_and_asks_to_confirm_by_text(in_acme):
    phone = new_phone()
    contact = request_web_signup(
        phone=phone[2:],  # typed without the country code
        first_name="Rosa",
        disclosure="By subscribing you agree… Reply STOP to cancel.",
        page_url="http://acme.localhost/join/",
        ip_address="203.0.113.9",
    )
    assert contact.status == Contact.Status.PENDING
    event = contact.consent_events.get()
    assert event.method == "web_form" and event.ip_address == "203.0.113.9"
    assert event.wording == "By subscribing you agree… Reply STOP to cancel."
    assert "Reply Y" in replies_to(contact.phone)[0].body


@pytest.mark.parametrize("bad", ["12", "not a number", ""])
def test_web_sign_up_refuses_bad_numbers(in_acme, bad):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        request_web_signup(phone=bad, first_name="", disclosure="x", page_url="", ip_address=None)
    assert not ConsentEvent.objects.exists()


def test_the_welcome_after_y_carries_the_contact_card(in_acme):
    phone = new_phone()
    text(phone, "JOIN")
    text(phone, "Y")
    welcome = replies_to(phone)[-1]
    assert welcome.media_urls == ["http://localhost/c/acme.vcf"]
    settings_row = compliance_settings()
    settings_row.attach_contact_card = False
    settings_row.save()
    other = new_phone()
    text(other, "JOIN")
    text(other, "Y")
    assert replies_to(other)[-1].media_urls == []

"""Contacts and consent through the services: what every page and import relies on."""

import csv
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from messaging import services
from messaging.models import (
    ConsentEvent,
    Contact,
    ContactList,
    ContactListMembership,
    CustomField,
    Tag,
)
from messaging.spreadsheets import safe_cell
from tests.messaging.conftest import new_phone

MANUAL = services.Consent(method=ConsentEvent.Method.MANUAL, source="signed form")


def test_a_contact_gets_its_number_normalized_and_located(in_acme):
    contact = services.create_contact(phone="(405) 555-0143", first_name=" Ada ")
    assert contact.phone == "+14055550143"
    assert (contact.region, contact.timezone) == ("OK", "America/Chicago")
    assert contact.first_name == "Ada"
    assert contact.status == Contact.Status.NONE
    assert contact.search_document  # the generated search column exists in cloned schemas


def test_creating_with_consent_records_the_evidence_and_subscribes(in_acme, users):
    contact = services.create_contact(phone=new_phone(), consent=MANUAL, actor=users["acme_owner"])
    assert contact.status == Contact.Status.SUBSCRIBED
    event = contact.consent_events.get()
    assert (event.kind, event.method, event.source) == ("opt_in", "manual", "signed form")
    assert event.actor_id == users["acme_owner"].pk


@pytest.mark.parametrize(
    ("phone", "reason"),
    [("", "No phone number"), ("hello", "Not a phone number"), ("555", "Not a valid phone"),
     ("+999 1234567", "Unknown country code")],
)  # fmt: skip
def test_bad_numbers_are_refused_with_a_reason(in_acme, phone, reason):
    with pytest.raises(ValidationError) as excinfo:
        services.create_contact(phone=phone)
    assert reason in excinfo.value.message_dict["phone"][0]
    assert not Contact.objects.exists()


def test_one_contact_per_phone_in_any_format(make_contact):
    make_contact("+13055550199")
    with pytest.raises(ValidationError) as excinfo:
        services.create_contact(phone="305.555.0199")
    assert "already exists" in excinfo.value.message_dict["phone"][0]


def test_a_number_that_opted_out_cannot_be_resubscribed_by_the_business(make_contact):
    contact = make_contact()
    services.record_opt_out(contact, services.Consent(method="keyword", source="stop"))
    phone = contact.phone
    services.delete_contact(contact)

    with pytest.raises(ValidationError) as excinfo:
        services.create_contact(phone=phone, consent=MANUAL)
    assert "opted out before" in excinfo.value.message_dict["phone"][0]
    assert services.opted_out_phones([phone, new_phone()]) == {phone}


def test_deleting_a_contact_keeps_its_consent_history(make_contact):
    contact = make_contact()
    phone = contact.phone
    services.delete_contact(contact)
    assert ConsentEvent.objects.filter(phone=phone, contact=None).count() == 1


def test_deleting_a_contact_or_a_list_takes_its_memberships_with_it(make_contact):
    # Memberships have no database constraint (imports add millions): the deletes must do it.
    kept, deleted = make_contact(), make_contact()
    regulars, vips = (
        ContactList.objects.create(name="Regulars"),
        ContactList.objects.create(name="VIP"),
    )
    for contact_list in (regulars, vips):
        services.add_to_list(contact_list, Contact.objects.all())
    services.delete_contact(deleted)
    vips.delete()
    assert list(ContactListMembership.objects.values_list("contact_list_id", "contact_id")) == [
        (regulars.pk, kept.pk)
    ]


def test_rows_an_import_adds_while_a_contact_is_deleted_are_swept_after_the_delete(
    make_contact, acme_client, monkeypatch, django_capture_on_commit_callbacks
):
    """Memberships and consent events have no database constraint, so an import that read the
    contact just before the delete committed can still add rows for it. The delete schedules a
    second look, a minute later, that removes them (and keeps the consent evidence, unlinked)."""
    from messaging import tasks

    scheduled = []
    monkeypatch.setattr(
        tasks.forget_deleted_contact,
        "apply_async",
        lambda args, countdown: scheduled.append((args, countdown)),
    )
    contact, other = make_contact(), make_contact()
    contact_id, phone = contact.pk, contact.phone
    regulars = ContactList.objects.create(name="Regulars")
    services.add_to_list(regulars, Contact.objects.filter(pk=other.pk))
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_contact(contact)
    assert scheduled == [((contact_id,), services.ORPHAN_SWEEP_DELAY_SECONDS)]

    # The import's rows, committed after the delete.
    ContactListMembership.objects.create(contact_list=regulars, contact_id=contact_id)
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                contact_id=contact_id,
                phone=phone,
                kind=ConsentEvent.Kind.OPT_IN,
                method=ConsentEvent.Method.IMPORT,
                source="contacts.csv",
            )
        ]
    )
    assert lists_page_size(acme_client, regulars) == 2  # the orphan counted

    assert tasks.forget_deleted_contact(contact_id) == 2

    assert lists_page_size(acme_client, regulars) == 1
    assert ConsentEvent.objects.filter(contact_id=contact_id).count() == 0
    assert ConsentEvent.objects.filter(phone=phone, contact=None).count() == 2  # evidence kept
    assert tasks.forget_deleted_contact(other.pk) == 0  # a contact that exists is left alone
    assert ContactListMembership.objects.filter(contact_id=other.pk).count() == 1


def lists_page_size(client, contact_list) -> int:
    """The count of contacts the lists page shows for ``contact_list``."""
    tenant = connection.tenant
    page = client.get("/lists/").content.decode()
    connection.set_tenant(tenant)  # the request left the connection on its own schema
    row = re.search(rf'\?list={contact_list.pk}">.*?</td>\s*<td>([\d,]+)</td>', page, re.S)
    return int(row[1].replace(",", ""))


def test_consent_events_are_append_only(make_contact):
    event = make_contact().consent_events.get()
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        ConsentEvent.objects.all().delete()


def test_status_follows_the_latest_event_even_when_recorded_out_of_order(make_contact):
    from datetime import timedelta

    contact = make_contact()
    earlier = contact.consent_events.get().occurred_at - timedelta(days=1)
    services.record_consent(
        contact, "opt_out", services.Consent(method="manual", occurred_at=earlier)
    )
    contact.refresh_from_db()
    assert contact.status == Contact.Status.SUBSCRIBED


def test_tags_are_normalized_and_registered(in_acme):
    contact = services.create_contact(phone=new_phone(), tags=["VIP", " vip ", "Summer  Sale"])
    assert contact.tags == ["vip", "summer sale"]
    assert set(Tag.objects.values_list("name", flat=True)) >= {"vip", "summer sale"}


def test_tagging_and_listing_many_contacts_is_one_statement(
    make_contact, django_assert_num_queries
):
    for _ in range(30):
        make_contact(tags=["old"])
    everyone = Contact.objects.all()
    with django_assert_num_queries(2):  # register the tag, update the contacts
        assert services.add_tag(everyone, "Spring") == 30
    assert services.add_tag(everyone, "spring") == 0  # already tagged
    contact_list = ContactList.objects.create(name="Spring")
    with django_assert_num_queries(1):
        assert services.add_to_list(contact_list, everyone.filter(tags__contains=["spring"])) == 30
    assert services.add_to_list(contact_list, everyone) == 0
    assert services.remove_tag(everyone, "old") == 30


@pytest.mark.parametrize(
    ("field_type", "raw", "stored"),
    [("number", "1,250", 1250), ("number", "2.5", 2.5), ("date", "05/03/1990", "1990-05-03"),
     ("date", "1990-05-03", "1990-05-03"), ("text", "  Gold ", "Gold")],
)  # fmt: skip
def test_custom_fields_are_stored_in_their_type(in_acme, field_type, raw, stored):
    CustomField.objects.create(key="info", label="Info", type=field_type)
    contact = services.create_contact(phone=new_phone(), custom_fields={"info": raw})
    assert contact.custom_fields == {"info": stored}


def test_custom_field_errors_name_the_field(in_acme):
    CustomField.objects.create(key="points", label="Points", type="number")
    with pytest.raises(ValidationError) as excinfo:
        services.create_contact(phone=new_phone(), custom_fields={"points": "lots", "shoe": "9"})
    messages = " ".join(excinfo.value.message_dict["custom_fields"])
    assert "points: 'lots' is not a number" in messages
    assert "no custom field called 'shoe'" in messages


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("@SUM(A1)", "'@SUM(A1)"),
     ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("+13055550143", "+13055550143"),
     ("-12.5", "-12.5"), ("Rosa", "Rosa"), (None, "")],
)  # fmt: skip
def test_spreadsheet_cells_never_start_a_formula(value, safe):
    assert safe_cell(value) == safe


def test_consent_export_is_evidence_and_formula_safe(acme_client, in_acme):
    contact = services.create_contact(
        phone=new_phone(),
        consent=services.Consent(method="manual", source='=HYPERLINK("http://evil")'),
    )
    response = acme_client.get(f"/contacts/{contact.pk}/consent.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["phone", "event", "method"]
    assert rows[1][:3] == [contact.phone, "Opted in", "Entered by a team member"]
    assert rows[1][5] == '\'=HYPERLINK("http://evil")'

"""The contact, audience and compliance pages, as a signed-in member uses them."""

import json

import pytest

from messaging import services
from messaging.models import ConsentEvent, Contact, ContactList, Segment
from messaging.selectors import PAGE_SIZE
from tests.conftest import workspace_client
from tests.messaging.conftest import new_phone


@pytest.fixture
def member_client(acme, users):
    return workspace_client(acme, users["acme_member"])


def listed_phones(response):
    return [c.phone for c in response.context["page"].items]


def test_the_contact_list_searches_by_name_phone_or_last_digits(acme_client, make_contact):
    rosa = make_contact(first_name="Rosa", last_name="Diaz", email="rosa@example.com")
    make_contact(first_name="Ben")
    for query in ["rosa", "Ros", "diaz", "rosa@exam", rosa.phone, rosa.phone[-4:], rosa.phone[2:]]:
        response = acme_client.get("/contacts/", {"q": query})
        assert listed_phones(response) == [rosa.phone], query
    assert listed_phones(acme_client.get("/contacts/", {"q": "nobody"})) == []


def test_the_contact_list_filters_by_status_tag_list_and_segment(acme_client, make_contact):
    vip = make_contact(tags=["vip"])
    other = make_contact()
    pending = make_contact(subscribed=False)
    winter = ContactList.objects.create(name="Winter")
    services.add_to_list(winter, Contact.objects.filter(pk=other.pk))
    segment = Segment.objects.create(
        name="VIPs", rules={"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}
    )
    assert listed_phones(acme_client.get("/contacts/", {"status": "none"})) == [pending.phone]
    assert listed_phones(acme_client.get("/contacts/", {"tag": "vip"})) == [vip.phone]
    assert listed_phones(acme_client.get("/contacts/", {"list": winter.pk})) == [other.phone]
    assert listed_phones(acme_client.get("/contacts/", {"segment": segment.pk})) == [vip.phone]


def test_keyset_pages_walk_forward_and_back_without_gaps(acme_client, make_contact):
    created = [make_contact().phone for _ in range(PAGE_SIZE * 2 + 5)]
    newest_first = list(reversed(created))

    first = acme_client.get("/contacts/")
    assert listed_phones(first) == newest_first[:PAGE_SIZE]
    assert first.context["count"] == len(created)
    second = acme_client.get("/contacts/", {"after": first.context["page"].next_cursor})
    assert listed_phones(second) == newest_first[PAGE_SIZE : PAGE_SIZE * 2]
    third = acme_client.get("/contacts/", {"after": second.context["page"].next_cursor})
    assert listed_phones(third) == newest_first[PAGE_SIZE * 2 :]
    assert third.context["page"].next_cursor is None
    back = acme_client.get("/contacts/", {"before": third.context["page"].previous_cursor})
    assert listed_phones(back) == listed_phones(second)


def test_the_contact_list_runs_a_fixed_number_of_queries(
    acme_client, make_contact, django_assert_max_num_queries
):
    for i in range(60):
        make_contact(tags=["vip", f"t{i % 3}"])
    with django_assert_max_num_queries(12) as captured:
        acme_client.get("/contacts/", {"tag": "vip"})
    few = len(captured)
    for _ in range(60):
        make_contact(tags=["vip"])
    with django_assert_max_num_queries(few):
        acme_client.get("/contacts/", {"tag": "vip"})


def test_adding_a_contact_with_consent_from_the_page(member_client, in_acme):
    response = member_client.post(
        "/contacts/new/",
        {"phone": "(305) 555-0177", "first_name": "Lea", "tags": "VIP, walk-in",
         "consent": "manual", "consent_note": "Signed the in-store form"},
    )  # fmt: skip
    contact = Contact.objects.get(phone="+13055550177")
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    assert contact.status == Contact.Status.SUBSCRIBED and contact.tags == ["vip", "walk-in"]
    assert contact.consent_events.get().source == "Signed the in-store form"
    page = member_client.get(f"/contacts/{contact.pk}/")
    assert b"Signed the in-store form" in page.content and b"Subscribed" in page.content


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phone": "12"}, "phone", "Not a valid phone number"),
        ({"phone": "+13055550100", "consent": "manual"}, "consent_note", "Say how they agreed"),
        ({"phone": "+13055550100", "email": "nope"}, "email", "valid email"),
    ],
)
def test_bad_contact_input_shows_the_error_and_saves_nothing(
    member_client, in_acme, data, field, message
):
    response = member_client.post("/contacts/new/", data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Contact.objects.exists()


def test_names_with_html_are_stored_and_shown_safely(acme_client, make_contact):
    contact = make_contact(first_name="<script>alert(1)</script>")
    page = acme_client.get(f"/contacts/{contact.pk}/")
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_editing_a_contact(acme_client, make_contact):
    contact = make_contact(first_name="Old")
    acme_client.post(
        f"/contacts/{contact.pk}/edit/",
        {
            "phone": contact.phone,
            "first_name": "New",
            "tags": "a, b",
            "timezone_name": "America/Denver",
        },
    )
    contact.refresh_from_db()
    assert (contact.first_name, contact.tags, contact.timezone) == (
        "New",
        ["a", "b"],
        "America/Denver",
    )
    assert contact.timezone_is_manual


def test_members_cannot_delete_or_export_but_admins_can(acme, users, make_contact):
    contact = make_contact()
    member = workspace_client(acme, users["acme_member"])
    assert member.post(f"/contacts/{contact.pk}/delete/").status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()
    admin = workspace_client(acme, users["acme_admin"])
    assert admin.post(f"/contacts/{contact.pk}/delete/").status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_unsubscribing_from_the_page_records_who_did_it(acme_client, users, make_contact):
    contact = make_contact()
    acme_client.post(f"/contacts/{contact.pk}/unsubscribe/", {"note": "Asked by email"})
    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED
    event = contact.consent_events.first()
    assert (event.source, event.actor_id) == ("Asked by email", users["acme_owner"].pk)


def test_another_organizations_contact_is_404(globex, users, make_contact):
    contact = make_contact()
    other = workspace_client(globex, users["globex_owner"])
    assert other.get(f"/contacts/{contact.pk}/").status_code == 404
    assert other.get(f"/contacts/{contact.pk}/consent.csv").status_code == 404
    assert other.post(f"/contacts/{contact.pk}/delete/").status_code == 404


def test_segment_preview_counts_live_and_shows_a_sample(acme_client, make_contact):
    make_contact(tags=["vip"])
    make_contact(tags=["vip"], subscribed=False)
    make_contact()
    rules = {"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}
    data = acme_client.post(
        "/segments/preview/", json.dumps(rules), content_type="application/json"
    ).json()
    assert (data["count"], data["subscribed"], len(data["sample"])) == (2, 1, 2)
    bad = acme_client.post("/segments/preview/", "{}", content_type="application/json")
    assert bad.status_code == 400 and "condition" in bad.json()["error"]


def test_saving_a_segment_validates_its_rules(acme_client, in_acme):
    good = {"conditions": [{"field": "status", "op": "is", "value": "subscribed"}]}
    assert (
        acme_client.post("/segments/new/", {"name": "Subs", "rules": json.dumps(good)}).status_code
        == 302
    )
    bad = {"conditions": [{"field": "status", "op": "is", "value": "sad"}]}
    response = acme_client.post("/segments/new/", {"name": "Sad", "rules": json.dumps(bad)})
    assert response.status_code == 400 and b"unknown status" in response.content
    assert list(Segment.objects.values_list("name", flat=True)) == ["Subs"]


def test_compliance_settings_are_for_owners_and_admins(acme, users, in_acme):
    data = {"support_contact": "hi@acme.test", "quiet_hours_start": "09:00",
            "quiet_hours_end": "19:00", "join_keywords": "roses, Tulips",
            "confirmation_prompt": "Reply Y to join. Reply STOP to stop.",
            "welcome_message": "Welcome", "opt_out_reply": "Bye", "opt_in_reply": "Hi again",
            "help_reply": "Help here", "signup_disclosure": "Terms"}  # fmt: skip
    member = workspace_client(acme, users["acme_member"])
    assert member.get("/settings/compliance/").status_code == 200
    assert member.post("/settings/compliance/", data).status_code == 403
    admin = workspace_client(acme, users["acme_admin"])
    assert admin.post("/settings/compliance/", data).status_code == 302
    saved = services.compliance_settings()
    assert saved.join_keywords == ["ROSES", "TULIPS"] and str(saved.quiet_hours_start) == "09:00:00"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"join_keywords": "STOP"}, "join_keywords", "reserved"),
        ({"join_keywords": "two words"}, "join_keywords", "one word"),
        (
            {"quiet_hours_start": "20:00", "quiet_hours_end": "09:00"},
            "quiet_hours_end",
            "after the start",
        ),
        ({"confirmation_prompt": "Reply Y"}, "confirmation_prompt", "how to opt out"),
    ],
)
def test_compliance_settings_refuse_what_the_law_or_sense_forbids(
    acme_client, in_acme, change, field, message
):
    data = {"confirmation_prompt": "Reply Y. STOP to stop.", "welcome_message": "w",
            "opt_out_reply": "o", "opt_in_reply": "i", "help_reply": "h",
            "signup_disclosure": "d", **change}  # fmt: skip
    response = acme_client.post("/settings/compliance/", data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])


def test_the_public_sign_up_page_needs_no_account_and_records_consent(acme, in_acme):
    from a2p.models import PhoneNumber

    PhoneNumber.objects.create(organization=acme, phone_number="+13055550100")
    visitor = workspace_client(acme)
    page = visitor.get("/join/")
    assert page.status_code == 200
    assert b"Get texts from Acme Boutique" in page.content
    assert b"sms:+13055550100?&amp;body=JOIN" in page.content and b"<svg" in page.content
    disclosure = page.context["disclosure"]
    assert "Acme Boutique" in disclosure and "STOP" in disclosure

    done = visitor.post("/join/", {"phone": "(305) 555-0166", "first_name": "Ana", "agree": "on"})
    assert b"Reply <strong>Y</strong>" in done.content
    contact = Contact.objects.get(phone="+13055550166")
    assert contact.status == Contact.Status.PENDING
    event = contact.consent_events.get()
    assert (event.method, event.wording) == (ConsentEvent.Method.WEB_FORM, disclosure)


def test_the_sign_up_page_requires_agreement_and_a_real_number(acme, in_acme):
    visitor = workspace_client(acme)
    assert b"This field is required" in visitor.post("/join/", {"phone": new_phone()}).content
    assert (
        b"Not a valid phone number"
        in visitor.post("/join/", {"phone": "123", "agree": "on"}).content
    )
    assert not Contact.objects.exists()


def test_the_sign_up_page_is_rate_limited_per_address(acme, in_acme, settings):
    from django.core.cache import cache

    cache.delete("signup-page:127.0.0.1")
    visitor = workspace_client(acme)
    for _ in range(10):
        visitor.post("/join/", {"phone": new_phone(), "agree": "on"})
    blocked = visitor.post("/join/", {"phone": new_phone(), "agree": "on"})
    assert b"Too many sign-ups" in blocked.content
    assert Contact.objects.count() == 10
    cache.delete("signup-page:127.0.0.1")

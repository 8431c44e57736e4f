from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from messaging import segments, services
from messaging.models import Contact, ContactList, CustomField


def matching(rules):
    return set(
        segments.contacts_matching(segments.validate_rules(rules)).values_list("phone", flat=True)
    )


@pytest.fixture
def people(make_contact):
    CustomField.objects.create(key="points", label="Points", type="number")
    CustomField.objects.create(key="birthday", label="Birthday", type="date")
    vip = make_contact(
        "+13055550101",
        first_name="Rosa",
        tags=["vip"],
        custom_fields={"points": 120, "birthday": "1990-05-03"},
    )
    regular = make_contact("+13055550102", first_name="Ben", custom_fields={"points": 20})
    gone = make_contact("+13055550103", first_name="Rob", tags=["vip"])
    services.record_opt_out(gone, services.Consent(method="keyword", source="stop"))
    stale = make_contact("+13055550104", subscribed=False, email="x@example.com")
    Contact.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=90))
    Contact.objects.filter(pk=vip.pk).update(
        last_replied_at=timezone.now() - timedelta(days=2),
        last_campaign_at=timezone.now() - timedelta(days=1),
    )
    Contact.objects.filter(pk=regular.pk).update(
        last_campaign_at=timezone.now() - timedelta(days=40)
    )
    winter = ContactList.objects.create(name="Winter")
    services.add_to_list(winter, Contact.objects.filter(pk__in=[regular.pk, gone.pk]))
    return {"list": winter.pk}  # fmt: skip


def c(field, op, value=None):
    return {"field": field, "op": op, **({} if value is None else {"value": value})}


def test_status_and_tag(people):
    assert matching({"conditions": [c("status", "is", "subscribed"), c("tag", "has", "VIP")]}) == {
        "+13055550101"
    }
    assert matching({"conditions": [c("tag", "has_not", "vip")]}) == {
        "+13055550102",
        "+13055550104",
    }


def test_any_versus_all(people):
    rules = [c("tag", "has", "vip"), c("list", "in", people["list"])]
    assert matching({"match": "any", "conditions": rules}) == {
        "+13055550101", "+13055550102", "+13055550103"
    }  # fmt: skip
    assert matching({"match": "all", "conditions": rules}) == {"+13055550103"}


def test_lists(people):
    assert matching({"conditions": [c("list", "not_in", people["list"])]}) == {
        "+13055550101", "+13055550104"
    }  # fmt: skip


def test_text_fields(people):
    assert matching({"conditions": [c("first_name", "starts_with", "ro")]}) == {
        "+13055550101", "+13055550103"
    }  # fmt: skip
    assert matching({"conditions": [c("email", "is_not_empty")]}) == {"+13055550104"}
    assert matching({"conditions": [c("phone", "contains", "0102")]}) == {"+13055550102"}


def test_custom_number_and_date_fields(people):
    assert matching({"conditions": [c("custom:points", "gt", "100")]}) == {"+13055550101"}
    assert matching({"conditions": [c("custom:points", "lt", 50)]}) == {"+13055550102"}
    assert matching({"conditions": [c("custom:birthday", "before", "2000-01-01")]}) == {
        "+13055550101"
    }
    assert matching({"conditions": [c("custom:birthday", "is_empty")]}) == {
        "+13055550102", "+13055550103", "+13055550104"
    }  # fmt: skip


def test_dates_and_engagement(people):
    assert matching({"conditions": [c("created", "more_than_days_ago", 30)]}) == {"+13055550104"}
    assert matching({"conditions": [c("received_campaign", "within_days", 30)]}) == {"+13055550101"}
    assert matching({"conditions": [c("received_campaign", "not_within_days", 30)]}) == {
        "+13055550102", "+13055550103", "+13055550104"
    }  # fmt: skip
    assert matching({"conditions": [c("replied", "within_days", 7)]}) == {"+13055550101"}
    assert matching({"conditions": [c("replied", "never")]}) == {
        "+13055550102", "+13055550103", "+13055550104"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("condition", "index"),
    [
        (c("received_campaign", "within_days", 30), "contact_last_campaign"),
        (c("replied", "ever"), "contact_last_replied"),
        (c("replied", "within_days", 7), "contact_last_replied"),
    ],
)
def test_engagement_conditions_can_use_their_partial_index(people, condition, index):
    # The engagement indexes leave out contacts without a date (most of them, and every
    # imported one); the conditions that look for a date must still be able to use them.
    query = segments.contacts_matching(segments.validate_rules({"conditions": [condition]}))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Without the newest-first ordering: for a handful of rows, scanning the primary key
        # backwards (no sort) costs about as much as the index and a sort, and which one wins
        # depended on the statistics that earlier tests' rolled-back rows left behind.
        plan = query.order_by().explain()
    assert index in plan


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"conditions": []}, "at least one condition"),
        ({"match": "some", "conditions": [c("tag", "has", "x")]}, "'all' or 'any'"),
        ({"conditions": [c("shoe", "is", "9")]}, "Condition 1: unknown field 'shoe'"),
        (
            {"conditions": [c("tag", "has", "x"), c("tag", "gt", "x")]},
            "Condition 2: tag cannot use 'gt'",
        ),
        ({"conditions": [c("tag", "has")]}, "needs a value"),
        ({"conditions": [c("replied", "within_days", "soon")]}, "not a whole number"),
        ({"conditions": [c("created", "before", "yesterday")]}, "not a date"),
        ({"conditions": [c("status", "is", "happy")]}, "unknown status"),
        ({"conditions": [c("custom:nope", "equals", "1")]}, "no custom field 'nope'"),
        ("not rules", "must be an object"),
    ],
)
def test_invalid_rules_are_refused_with_a_message_naming_the_problem(in_acme, rules, message):
    with pytest.raises(ValidationError) as excinfo:
        segments.validate_rules(rules)
    assert message in excinfo.value.messages[0]

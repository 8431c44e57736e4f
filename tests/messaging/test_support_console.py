"""Support staff's view into organizations' campaigns and messages (audited), and the delivery
health of every number."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from a2p.models import PhoneNumber, PhoneNumberDailyStats
from messaging.delivery_health import roll_up
from messaging.models import Message
from organizations.models import AuditLog

SID = "SM" + "ab" * 16


@pytest.fixture
def staff(users):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["staff"])
    return client


def outbound(to, status, sid=None, from_phone="+13055550100", **extra):
    return Message.objects.create(
        direction="out", kind="campaign", to_phone=to, from_phone=from_phone, body="Hi",
        status=status, sid=sid, **extra,
    )  # fmt: skip


def test_staff_find_an_organizations_messages_by_sid_or_phone_and_it_is_audited(staff, acme, users):
    with tenant_context(acme):
        outbound("+13055550111", "delivered", sid=SID)
        outbound("+13055550122", "undelivered", error_code=30003, error_reason="Phone off")
    by_sid = staff.get(f"/admin/organizations/organization/{acme.pk}/messages/", {"q": SID})
    assert [m.to_phone for m in by_sid.context["rows"]] == ["+13055550111"]
    by_phone = staff.get(
        f"/admin/organizations/organization/{acme.pk}/messages/", {"q": "(305) 555-0122"}
    )
    assert [m.to_phone for m in by_phone.context["rows"]] == ["+13055550122"]
    assert b"30003: Phone off" in by_phone.content
    audit = AuditLog.objects.filter(organization=acme, action="support.viewed_messages")
    assert audit.count() == 2 and audit.first().actor == users["staff"]


def test_a_sid_is_found_in_whichever_organization_sent_it(staff, acme, globex):
    with tenant_context(globex):
        outbound("+13055550133", "sent", sid=SID)
    page = staff.get("/admin/organizations/organization/find-message/", {"q": SID})
    assert [(org.slug, m.sid) for org, m in page.context["found"]] == [("globex", SID)]
    assert AuditLog.objects.filter(action="support.searched_messages").exists()


def test_customers_cannot_reach_the_support_views(acme, users):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["acme_owner"])
    response = client.get(f"/admin/organizations/organization/{acme.pk}/messages/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AuditLog.objects.filter(action__startswith="support.").exists()


def test_delivery_health_is_rolled_up_per_number_and_shown(staff, acme):
    number = PhoneNumber.objects.create(organization=acme, phone_number="+13055550100")
    with tenant_context(acme):
        for status in ["delivered", "delivered", "delivered", "undelivered", "queued"]:
            outbound("+13055550144", status)
        outbound("+13055550144", "delivered", from_phone="+13055550999")  # not this number
        assert roll_up() == 1
        roll_up()  # recomputing changes nothing
    stats = PhoneNumberDailyStats.objects.get(phone_number=number)
    assert (stats.sent, stats.delivered, stats.failed) == (5, 3, 1)
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    PhoneNumberDailyStats.objects.create(
        phone_number=number, day=yesterday, sent=10, delivered=8, failed=2
    )

    page = staff.get("/admin/a2p/phonenumber/")
    row = page.context["cl"].result_list[0]
    assert (row.today_sent, row.recent_delivered, row.recent_failed) == (5, 11, 3)
    assert b"78.6%" in page.content  # 11 of 14 finished


def test_the_number_list_runs_a_fixed_number_of_queries(
    staff, acme, globex, django_assert_max_num_queries
):
    for i in range(20):
        PhoneNumber.objects.create(
            organization=acme if i % 2 else globex, phone_number=f"+1305555{i:04d}"
        )
    with django_assert_max_num_queries(10):
        assert staff.get("/admin/a2p/phonenumber/").status_code == 200

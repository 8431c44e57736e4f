"""The support console on the public domain."""

import pytest
from django.test import Client

from tests.conftest import workspace_client


@pytest.fixture
def staff_client(users):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["staff"])
    return client


def test_staff_find_organizations_by_name_slug_domain_or_member_email(staff_client, world):
    for term in ["Acme", "acme", "acme.localhost", "member@acme.test"]:
        page = staff_client.get("/admin/organizations/organization/", {"q": term})
        assert page.status_code == 200
        assert listed(page) == {"Acme Boutique"}, term


def listed(page):
    return {str(obj) for obj in page.context["cl"].result_list}


def test_staff_filter_organizations_and_see_domains_and_members(staff_client, acme):
    page = staff_client.get("/admin/organizations/organization/", {"kind__exact": "customer"})
    assert listed(page) == {"Acme Boutique", "Globex Shop"}
    templates = staff_client.get("/admin/organizations/organization/", {"kind__exact": "template"})
    assert listed(templates) == {"Template"}
    detail = staff_client.get(f"/admin/organizations/organization/{acme.pk}/change/")
    assert b"acme.localhost" in detail.content
    assert b"member@acme.test" in detail.content


def test_staff_list_memberships_by_role(staff_client, world):
    page = staff_client.get("/admin/organizations/membership/", {"role__exact": "admin"})
    assert {m.user.email for m in page.context["cl"].result_list} == {"admin@acme.test"}


def test_organization_list_query_count_does_not_grow_with_organizations(
    staff_client, world, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        assert staff_client.get("/admin/organizations/organization/").status_code == 200


def test_the_audit_log_is_read_only(staff_client, world):
    page = staff_client.get("/admin/organizations/auditlog/")
    assert page.status_code == 200
    assert b"organization.created" in page.content
    assert staff_client.get("/admin/organizations/auditlog/add/").status_code == 403


def test_customers_cannot_use_the_console(users, world):
    client = Client(HTTP_HOST="localhost")
    client.force_login(users["acme_owner"])
    response = client.get("/admin/organizations/organization/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_console_is_not_served_on_workspace_domains(acme, users):
    assert workspace_client(acme, users["acme_owner"]).get("/admin/").status_code == 404

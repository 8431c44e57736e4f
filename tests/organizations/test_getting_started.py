"""The home page's getting-started checklist: each step links to where it is done and is marked
done once the organization is past it."""

import re

from django.db import connection
from django_tenants.utils import tenant_context

from billing import services as billing_services
from messaging import services as messaging_services
from messaging.models import Campaign, ConsentEvent
from organizations import services
from organizations.roles import Role
from tests.a2p.factories import registered_number
from tests.conftest import workspace_client

STEP = re.compile(r'<li><a href="([^"]+)">([^<]+)</a>( <span class="badge ok">Done</span>)?</li>')


def checklist(organization, user):
    page = workspace_client(organization, user).get("/")
    assert page.status_code == 200
    connection.set_schema_to_public()
    return [(url, bool(done)) for url, _title, done in STEP.findall(page.content.decode())]


def test_each_step_is_marked_done_once_the_organization_is_past_it(world, users):
    owner = users["outsider"]
    shop = services.create_organization(name="Checklist Shop", slug="checklist-shop", owner=owner)

    assert checklist(shop, owner) == [
        ("/billing/", False),
        ("/registration/", False),
        ("/contacts/import/", False),
        ("/campaigns/new/", False),
    ]

    billing_services.comp_organization(shop, reason="tests")
    registered_number(shop)
    with tenant_context(shop):
        messaging_services.create_contact(
            phone="+13055550199",
            consent=messaging_services.Consent(method=ConsentEvent.Method.MANUAL, source="form"),
        )
        Campaign.objects.create(name="First", body="Hello")

    assert [done for _url, done in checklist(shop, owner)] == [True, True, True, True]


def test_a_member_who_may_not_import_is_sent_to_the_contacts(world, users):
    shop = services.create_organization(
        name="Member Shop", slug="member-shop", owner=users["outsider"]
    )
    member = users["acme_member"]
    services.add_member(organization=shop, user=member, role=Role.MEMBER)

    urls = [url for url, _done in checklist(shop, member)]
    assert urls[2] == "/contacts/"

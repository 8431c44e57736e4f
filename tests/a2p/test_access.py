"""Who may see and do what: everyone in the organization follows the registration; only owners
and admins submit, resubmit or choose the number; nobody else's registration is reachable."""

import pytest

from a2p.models import Registration
from tests.a2p.helpers import ANSWERS, checked_details
from tests.conftest import workspace_client

PAGES = ["/registration/", "/registration/details/", "/registration/number/",
         "/registration/status.json"]  # fmt: skip


@pytest.fixture
def member_client(acme, users):
    return workspace_client(acme, users["acme_member"])


def test_members_follow_the_registration_but_cannot_submit(acme, member_client):
    form = member_client.get("/registration/details/")
    assert form.status_code == 200
    assert b"Only owners and admins can change these answers." in form.content
    for action in ("submit", "save"):
        response = member_client.post("/registration/details/", {**ANSWERS, "action": action})
        assert response.status_code == 403, action
    registration = Registration.objects.get(organization=acme)
    assert registration.status == Registration.Status.DRAFT
    assert registration.draft == {} and registration.details == {}
    assert not registration.events.exists()


def test_members_cannot_choose_the_number(acme, member_client):
    Registration.objects.create(
        organization=acme,
        details=checked_details(),
        stage=Registration.Stage.PHONE_NUMBER,
        status=Registration.Status.WAITING_ON_CUSTOMER,
    )
    assert member_client.get("/registration/number/").status_code == 200
    response = member_client.post("/registration/number/", {"phone_number": "+15125550100"})
    assert response.status_code == 403
    assert member_client.post("/registration/number/", {"action": "auto"}).status_code == 403
    assert Registration.objects.get(organization=acme).chosen_phone_number == ""


def test_admins_may_submit(acme, users):
    client = workspace_client(acme, users["acme_admin"])
    response = client.post("/registration/details/", {**ANSWERS, "action": "save"})
    assert response.status_code == 302


@pytest.mark.parametrize("path", PAGES)
def test_another_organizations_registration_is_not_found(acme, globex, users, path):
    Registration.objects.create(organization=acme, details=checked_details())
    outsider = workspace_client(acme, users["globex_owner"])
    assert outsider.get(path).status_code == 404
    posted = outsider.post(path, {**ANSWERS, "action": "submit"})
    assert posted.status_code == 404
    assert Registration.objects.get(organization=acme).status == Registration.Status.DRAFT
    assert not Registration.objects.filter(organization=globex).exists()


@pytest.mark.parametrize("path", PAGES)
def test_visitors_are_sent_to_sign_in(acme, path):
    response = workspace_client(acme).get(path)
    assert response.status_code == 302 and "/sso/" in response["Location"]


def test_each_organization_sees_only_its_own_registration(acme, globex, users):
    Registration.objects.create(
        organization=globex,
        details=checked_details(legal_name="Globex Shop Corp"),
        stage=Registration.Stage.BRAND,
        status=Registration.Status.WAITING_ON_CUSTOMER,
        rejection=[{"object": "brand", "code": 30795}],
    )
    acme_page = workspace_client(acme, users["acme_owner"]).get("/registration/details/")
    assert b"Globex Shop Corp" not in acme_page.content
    assert b"IRS records" not in acme_page.content
    assert workspace_client(globex, users["globex_owner"]).get("/registration/").status_code == 200

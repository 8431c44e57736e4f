import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from organizations.models import Membership
from organizations.permissions import (
    HasOrganizationPermission,
    check_permission,
    has_permission,
    require_permission,
)
from organizations.roles import PERMISSIONS, Role, role_has_permission


def request_as(role):
    request = RequestFactory().get("/")
    request.membership = Membership(role=role) if role else None
    return request


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.OWNER, "members.manage_owners", True),
        (Role.ADMIN, "members.manage_owners", False),
        (Role.ADMIN, "members.manage", True),
        (Role.MEMBER, "members.manage", False),
        (Role.MEMBER, "organization.view", True),
        (None, "organization.view", False),
    ],
)
def test_the_gate_follows_the_role_table(role, permission, allowed):
    assert has_permission(request_as(role), permission) is allowed


def test_owners_hold_every_permission():
    assert all(role_has_permission(Role.OWNER, name) for name in PERMISSIONS)


def test_an_unknown_permission_fails_closed():
    with pytest.raises(LookupError):
        role_has_permission(Role.OWNER, "contacts.eidt")


def test_refusal_names_the_role():
    with pytest.raises(PermissionDenied, match=r"Your role \(Member\)"):
        check_permission(request_as(Role.MEMBER), "members.manage")


def test_decorated_views_refuse_roles_without_the_permission():
    @require_permission("members.manage")
    def view(request):
        return "ran"

    assert view(request_as(Role.ADMIN)) == "ran"
    with pytest.raises(PermissionDenied):
        view(request_as(Role.MEMBER))


def test_api_permission_class_asks_the_same_gate():
    view = type("View", (), {"required_permission": "members.manage"})()
    assert HasOrganizationPermission().has_permission(request_as(Role.ADMIN), view)
    assert not HasOrganizationPermission().has_permission(request_as(Role.MEMBER), view)
    assert not HasOrganizationPermission().has_permission(request_as(None), view)

"""Roles and what each may do. The only place that maps roles to permissions; the gate in
organizations.permissions asks it, nothing else does."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


_EVERYONE = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_OWNERS = frozenset({Role.OWNER})

# permission name -> roles that hold it. Later features add their permissions here.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "organization.view": _EVERYONE,
    "organization.edit": _MANAGERS,
    "members.view": _EVERYONE,
    "members.manage": _MANAGERS,
    "members.manage_owners": _OWNERS,
    "organization.delete": _OWNERS,
    # Subscribers: everyone works with contacts; taking data out or in wholesale, deleting, and
    # changing what the law requires are for owners and admins.
    "contacts.view": _EVERYONE,
    "contacts.edit": _EVERYONE,
    "contacts.delete": _MANAGERS,
    "contacts.import": _MANAGERS,
    "contacts.export": _MANAGERS,
    "fields.manage": _MANAGERS,
    "compliance.edit": _MANAGERS,
    # Campaigns: anyone drafts and watches; owners and admins press "send".
    "campaigns.view": _EVERYONE,
    "campaigns.edit": _EVERYONE,
    "campaigns.send": _MANAGERS,
    # Billing: everyone sees the plan and usage; only owners pay, change plan or cancel.
    "billing.view": _EVERYONE,
    "billing.manage": _OWNERS,
    # A2P registration: everyone follows it; owners and admins answer for the business.
    "registration.view": _EVERYONE,
    "registration.manage": _MANAGERS,
}


def role_has_permission(role: str, permission: str) -> bool:
    try:
        allowed = PERMISSIONS[permission]
    except KeyError:
        # A typo in a permission name must fail closed, and loudly in development.
        raise LookupError(f"Unknown permission {permission!r}") from None
    return role in allowed

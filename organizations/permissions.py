"""The permission gate: the one place that decides whether the current user may act in the
current organization. Views, API views and admin actions all ask it.

Membership itself is checked for every workspace page by TenantAccessMiddleware (a non-member
gets 404); this module adds the role check on top.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from organizations.roles import Role, role_has_permission


def has_permission(request, permission: str) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and role_has_permission(membership.role, permission)


def check_permission(request, permission: str) -> None:
    if not has_permission(request, permission):
        membership = getattr(request, "membership", None)
        role = Role(membership.role).label if membership else "visitor"
        raise PermissionDenied(
            f"Your role ({role}) does not allow this. Ask an owner of this workspace."
        )


def require_permission(permission: str):
    """Decorator for function views."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            check_permission(request, permission)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class PermissionRequiredMixin:
    """For class-based views: set ``permission = "contacts.edit"``."""

    permission: str = "organization.view"

    def dispatch(self, request, *args, **kwargs):
        check_permission(request, self.permission)
        return super().dispatch(request, *args, **kwargs)


class IsOrganizationMember(BasePermission):
    """DRF: the request is on an organization's domain by one of its members."""

    def has_permission(self, request, view):
        return getattr(request, "membership", None) is not None


class HasOrganizationPermission(IsOrganizationMember):
    """DRF: set ``required_permission`` on the view."""

    def has_permission(self, request, view):
        permission = getattr(view, "required_permission", "organization.view")
        return has_permission(request, permission)


def public_in_tenant(view):
    """Mark a view served on an organization's domain as open to anyone (log-in page, public
    sign-up form, webhooks). Everything else there requires membership."""
    if hasattr(view, "view_class"):
        view.view_class.tenant_public = True
    view.tenant_public = True
    return view

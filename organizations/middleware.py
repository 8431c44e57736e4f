import zoneinfo
from functools import lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from organizations.models import Membership
from smsplatform.ttl_cache import ttl_cache


@lru_cache(maxsize=256)
def _zone(name):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


class TenantHostMiddleware(TenantMainMiddleware):
    """Routes a request to its organization's schema by host. Only customer organizations are
    reachable by a workspace host; anything else is 404."""

    def get_tenant(self, domain_model, hostname):
        tenant = tenant_for_host(hostname.lower())
        if tenant is None:
            raise domain_model.DoesNotExist
        return tenant


@ttl_cache(seconds=5)
def tenant_for_host(hostname):
    """The organization a host serves (customers and the public site only), or None. Every
    request asks; cached for a few seconds per process."""
    from organizations.models import Domain

    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None:
        return None
    tenant = domain.tenant
    if not (tenant.is_customer or tenant.schema_name == get_public_schema_name()):
        return None
    return tenant


class TenantAccessMiddleware:
    """Deny by default on workspace hosts: every view requires a member of *this* organization,
    unless marked with ``public_in_tenant``. Logged-in non-members get 404, so they learn nothing
    of the organization; anonymous visitors are sent to sign in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == get_public_schema_name():
            return self.get_response(request)
        # Dates on an organization's pages are shown in its own time zone.
        timezone.activate(_zone(tenant.timezone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == get_public_schema_name():
            return None
        view_class = getattr(view_func, "view_class", None)
        if getattr(view_func, "tenant_public", False) or getattr(
            view_class, "tenant_public", False
        ):
            return None
        if not request.user.is_authenticated:
            return redirect_to_single_sign_on(request)
        membership = (
            Membership.objects.filter(user=request.user, organization=tenant)
            .only("id", "role", "user_id", "organization_id")
            .first()
        )
        if membership is None:
            raise Http404("No such page")
        request.membership = membership
        return None


def redirect_to_single_sign_on(request):
    """Send an anonymous visitor of a workspace page through the public site: a user already
    signed in there comes straight back signed in; anyone else lands on this workspace's
    sign-in form."""
    target = request.build_absolute_uri()
    sso = reverse("sso", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
    return HttpResponseRedirect(f"{settings.SITE_URL}{sso}?{urlencode({'next': target})}")

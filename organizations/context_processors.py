from django.conf import settings


def workspace(request):
    """The current organization and the user's membership, for the page chrome."""
    tenant = getattr(request, "tenant", None)
    organization = tenant if tenant is not None and tenant.is_customer else None
    return {
        "organization": organization,
        "membership": getattr(request, "membership", None),
        "site_url": settings.SITE_URL,
    }

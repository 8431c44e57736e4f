from django.utils.functional import SimpleLazyObject

from billing.selectors import banner_for


def billing_banner(request):
    """The allowance / payment banner on workspace pages: one small query, only when a
    workspace page renders it."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or not tenant.is_customer or getattr(request, "membership", None) is None:
        return {}
    return {"billing_banner": SimpleLazyObject(lambda: banner_for(tenant))}

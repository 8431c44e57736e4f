"""Billing pages on an organization's domain, and Stripe's webhook on the public site. Views
parse input, ask the permission gate and call services or selectors."""

import logging

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing import selectors, services, webhooks
from billing.models import BillingAccount, CheckoutSession, Plan
from organizations.permissions import has_permission, require_permission
from smsplatform.providers.errors import InvalidWebhookError, ProviderError

logger = logging.getLogger(__name__)


def _offered_plans():
    return Plan.objects.filter(is_active=True).order_by("-recommended", "position")


@require_permission("billing.view")
def billing(request):
    overview = selectors.billing_overview(request.tenant)
    current_plan_id = overview.plan.pk if overview.plan else None
    return render(
        request,
        "billing/billing.html",
        {
            "overview": overview,
            "other_plans": [p for p in _offered_plans() if p.pk != current_plan_id],
            "can_manage": has_permission(request, "billing.manage"),
            "has_subscription": services.has_live_subscription(overview.account),
            "overage_choices": BillingAccount.Overage.choices,
        },
    )


@require_permission("billing.view")
def plans(request):
    account = selectors.account_for(request.tenant)
    return render(
        request,
        "billing/plans.html",
        {
            "plans": _offered_plans(),
            "account": account,
            "has_subscription": services.has_live_subscription(account),
            "can_manage": has_permission(request, "billing.manage"),
        },
    )


def _attempt(request, action, *, success: str | None = None, on_failure="billing"):
    """Run a billing action and redirect: to the URL it returns (Checkout, the portal) or to
    the billing page. A refusal or a Stripe failure becomes a message on the page instead."""
    try:
        result = action()
    except services.BillingError as error:
        messages.error(request, str(error))
        return redirect(on_failure)
    except ProviderError as error:
        logger.warning("Billing action failed at Stripe: %r", error)
        messages.error(request, f"Stripe could not do that just now: {error.plain_reason}")
        return redirect(on_failure)
    if success:
        messages.success(request, success)
    return HttpResponseRedirect(result) if isinstance(result, str) else redirect("billing")


@require_POST
@require_permission("billing.manage")
def checkout(request, code):
    plan = get_object_or_404(Plan, code=code, is_active=True)
    return _attempt(
        request,
        lambda: services.start_checkout(request.tenant, plan, actor=request.user),
        on_failure="billing_plans",
    )


def _checkout_session(request) -> CheckoutSession:
    session_id = request.GET.get("session_id", "")
    session = (
        CheckoutSession.objects.select_related("plan")
        .filter(organization=request.tenant, stripe_session_id=session_id)
        .first()
    )
    if session is None:
        raise Http404("No such checkout")
    return session


def _checkout_state(request, session: CheckoutSession) -> dict:
    account = selectors.account_for(request.tenant)
    active = (
        session.completed_at is not None
        and account is not None
        and services.has_live_subscription(account)
    )
    return {
        "active": active,
        "plan": account.plan.name if active and account.plan else session.plan.name,
    }


@require_GET
@require_permission("billing.view")
def checkout_done(request):
    """Where Stripe sends the customer after paying. It activates nothing: it waits (polling
    checkout_status) for Stripe's webhook to say the subscription started."""
    session = _checkout_session(request)
    return render(
        request,
        "billing/checkout_done.html",
        {"session": session, "state": _checkout_state(request, session)},
    )


@require_GET
@require_permission("billing.view")
def checkout_status(request):
    return JsonResponse(_checkout_state(request, _checkout_session(request)))


@require_POST
@require_permission("billing.manage")
def portal(request):
    return _attempt(request, lambda: services.portal_url(request.tenant))


@require_POST
@require_permission("billing.manage")
def change_plan(request):
    plan = get_object_or_404(Plan, code=request.POST.get("plan", ""), is_active=True)
    return _attempt(
        request,
        lambda: services.change_plan(request.tenant, plan, actor=request.user),
        success=f"You are now on {plan.name}.",
    )


@require_POST
@require_permission("billing.manage")
def cancel(request):
    return _attempt(
        request,
        lambda: services.cancel_subscription(request.tenant, actor=request.user),
        success="Your plan will end at the close of this period. Sending goes on until then.",
    )


@require_POST
@require_permission("billing.manage")
def resume(request):
    return _attempt(
        request,
        lambda: services.resume_subscription(request.tenant, actor=request.user),
        success="Your plan will renew as usual.",
    )


@require_POST
@require_permission("billing.manage")
def overage(request):
    choice = request.POST.get("overage", "")
    return _attempt(
        request,
        lambda: services.set_overage(request.tenant, choice, actor=request.user),
        success="Saved what happens past your allowance.",
    )


# --- Stripe's webhook (public site) ----------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify, store once, answer at once; a Celery task does the work after commit."""
    try:
        webhooks.receive(request.body, request.headers.get("Stripe-Signature"))
    except InvalidWebhookError as error:
        logger.warning("Refused a Stripe webhook: %s", error.plain_reason)
        return HttpResponse(error.plain_reason, status=400, content_type="text/plain")
    return HttpResponse(status=200)

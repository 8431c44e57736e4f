"""Billing test helpers: the plans, an organization put on a plan directly (for the allowance
and sending rules), Celery tasks run inline, and real Stripe sandbox events delivered to the
platform's own webhook view."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import BillingAccount, Plan
from smsplatform.celery import app as celery_app


@pytest.fixture
def accelerator(db) -> Plan:
    return Plan.objects.get(code="accelerator")


@pytest.fixture
def standard(db) -> Plan:
    return Plan.objects.get(code="standard")


def put_on_plan(organization, plan, *, messages=None, status="active", overage="blocked"):
    """An active subscription as the webhooks would leave it, without Stripe (for the
    allowance and sending rules). ``messages`` overrides the plan's allowance."""
    if messages is not None:
        Plan.objects.filter(pk=plan.pk).update(monthly_messages=messages)
        plan.refresh_from_db()
    now = timezone.now()
    account, _ = BillingAccount.objects.update_or_create(
        organization=organization,
        defaults={
            "plan": plan,
            "stripe_customer_id": f"cus_test{organization.pk}",
            "stripe_subscription_id": f"sub_test{organization.pk}",
            "subscription_status": status,
            "subscription_created_at": now - dt.timedelta(days=3),
            "current_period_start": now - dt.timedelta(days=3),
            "current_period_end": now + dt.timedelta(days=27),
            "overage": overage,
        },
    )
    return account


@pytest.fixture
def tasks_inline():
    """Celery tasks run in the caller (``.delay`` executes at once), for tests about what the
    tasks do rather than the queue."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def webhook_client(db) -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def deliver(webhook_client, django_capture_on_commit_callbacks, tasks_inline):
    """Post received sandbox webhooks (or raw bodies) to POST /webhooks/stripe/ as Stripe
    would, running the tasks they enqueue; returns the HTTP statuses."""

    def post(hooks):
        statuses = []
        for hook in hooks:
            with django_capture_on_commit_callbacks(execute=True):
                response = webhook_client.post(
                    "/webhooks/stripe/",
                    data=hook.body,
                    content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=hook.headers.get("Stripe-Signature", ""),
                )
            statuses.append(response.status_code)
        return statuses

    return post


@pytest.fixture
def catalogue(stripe_sandbox, db):
    """The plan catalogue in the session's Stripe sandbox, price ids on the plans."""
    from billing.catalogue import sync_catalogue

    sync_catalogue()
    return {plan.code: plan for plan in Plan.objects.all()}

"""The plan catalogue in Stripe: one product, a monthly price per plan, a one-time setup fee
where a plan has one, a metered overage price per overage rate, and the "Messages" meter.

Idempotent: every object is found first (product by its chosen id, meter by event name, prices
by lookup key with the amount checked), and created only when missing, under a deterministic
idempotency key. A changed amount gets a new price that takes over the lookup key (Stripe
prices are immutable) and the old one is archived: no longer offered, while subscriptions on it
keep it until they change plan.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from billing.models import Plan
from smsplatform.providers.errors import ProviderRequestError
from smsplatform.providers.stripe import Price, gateway


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)


def price_lookup_key(plan: Plan, kind: str) -> str:
    return f"{settings.BILLING_STRIPE_PRODUCT_ID}_{plan.code}_{kind}"


def overage_lookup_key(cents: int) -> str:
    return f"{settings.BILLING_STRIPE_PRODUCT_ID}_overage_{cents}c"


def sync_catalogue() -> SyncReport:
    """Bring Stripe's catalogue in line with the active plans; store the price ids on them."""
    stripe = gateway()
    report = SyncReport()
    meter = _meter(stripe, report)
    product_id = _product(stripe, report)
    for plan in Plan.objects.filter(is_active=True):
        monthly = _price(
            stripe,
            report,
            lookup_key=price_lookup_key(plan, "monthly"),
            product_id=product_id,
            amount=plan.monthly_price_cents,
            interval="month",
            nickname=plan.name,
            metadata={"plan": plan.code},
        )
        setup = None
        if plan.setup_fee_cents:
            setup = _price(
                stripe,
                report,
                lookup_key=price_lookup_key(plan, "setup"),
                product_id=product_id,
                amount=plan.setup_fee_cents,
                interval=None,
                nickname=f"{plan.name} onboarding",
                metadata={"plan": plan.code, "kind": "setup"},
            )
        overage = _price(
            stripe,
            report,
            lookup_key=overage_lookup_key(plan.overage_cents_per_message),
            product_id=product_id,
            amount=plan.overage_cents_per_message,
            interval="month",
            meter_id=meter.id,
            nickname="Messages beyond the allowance",
            metadata={"kind": "overage"},
        )
        with transaction.atomic():
            Plan.objects.filter(pk=plan.pk).update(
                stripe_price_id=monthly.id,
                stripe_setup_price_id=setup.id if setup else "",
                stripe_overage_price_id=overage.id,
            )
    return report


def _meter(stripe, report):
    name = settings.BILLING_METER_EVENT_NAME
    for meter in stripe.list_meters(status=None):
        if meter.event_name == name:
            report.found.append(f"meter {meter.id}")
            return meter
    meter = stripe.create_meter(
        event_name=name, display_name="Messages", idempotency_key=f"catalogue:meter:{name}"
    )
    report.created.append(f"meter {meter.id}")
    return meter


def _product(stripe, report) -> str:
    product_id = settings.BILLING_STRIPE_PRODUCT_ID
    try:
        stripe.retrieve_product(product_id)
        report.found.append(f"product {product_id}")
    except ProviderRequestError as error:
        if error.code != "resource_missing":
            raise
        stripe.create_product(
            name="Textwise",
            description="SMS marketing for small businesses",
            product_id=product_id,
            idempotency_key=f"catalogue:product:{product_id}",
        )
        report.created.append(f"product {product_id}")
    return product_id


def _price(
    stripe, report, *, lookup_key, product_id, amount, interval, nickname, metadata, meter_id=None
) -> Price:
    existing = stripe.price_by_lookup_key(lookup_key)
    if existing is not None and existing.unit_amount_cents == amount:
        report.found.append(f"price {lookup_key}")
        return existing
    price = stripe.create_price(
        product_id=product_id,
        unit_amount_cents=amount,
        recurring_interval=interval,
        metered_by=meter_id,
        lookup_key=lookup_key,
        transfer_lookup_key=existing is not None,
        nickname=nickname,
        metadata=metadata,
        # Names what it replaces too: returning to an earlier amount is a new request.
        idempotency_key=f"catalogue:price:{lookup_key}:{amount}:{existing.id if existing else ''}",
    )
    report.created.append(f"price {lookup_key}")
    if existing is not None:
        stripe.archive_price(existing.id)
    return price


def ensure_catalogue(plan: Plan) -> Plan:
    """The plan with its Stripe price ids, syncing the catalogue first if it never was."""
    if not plan.stripe_price_id or not plan.stripe_overage_price_id:
        sync_catalogue()
        plan.refresh_from_db()
    return plan

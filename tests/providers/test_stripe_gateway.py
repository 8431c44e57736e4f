"""The Stripe gateway against the local sandbox: every call, idempotency, and how Stripe's
failures reach the platform. (Each request is also checked against Stripe's spec after the
test: tests/stripe_sandbox.py.)"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from smsplatform.providers.errors import (
    AmbiguousOutcome,
    PaymentDeclinedError,
    ProviderAuthError,
    ProviderRequestError,
    RetryableError,
)
from smsplatform.providers.stripe import API_VERSION, PriceTier, StripeGateway


def key(label: str) -> str:
    """A deterministic-per-action key, unique per test run (the sandbox keeps keys 24 h)."""
    return f"{label}:{uuid.uuid4().hex}"


@pytest.fixture
def catalogue(stripe_gateway):
    """The two plans as the billing issue will sync them: one product, a monthly price per
    plan, the Accelerator setup fee and a metered overage price on a meter."""
    run = uuid.uuid4().hex[:8]
    product = stripe_gateway.create_product(
        name="Textwise", product_id=f"textwise-{run}", idempotency_key=key("product")
    )
    accelerator = stripe_gateway.create_price(
        product_id=product.id,
        unit_amount_cents=15000,
        recurring_interval="month",
        lookup_key=f"accelerator_monthly_{run}",
        nickname="Accelerator",
        idempotency_key=key("price"),
    )
    standard = stripe_gateway.create_price(
        product_id=product.id,
        unit_amount_cents=15000,
        recurring_interval="month",
        lookup_key=f"standard_monthly_{run}",
        nickname="Standard",
        idempotency_key=key("price"),
    )
    setup_fee = stripe_gateway.create_price(
        product_id=product.id,
        unit_amount_cents=59700,
        lookup_key=f"accelerator_setup_{run}",
        nickname="Accelerator onboarding",
        idempotency_key=key("price"),
    )
    meter = stripe_gateway.create_meter(
        event_name=f"messages_{run}", display_name="Messages", idempotency_key=key("meter")
    )
    overage = stripe_gateway.create_price(
        product_id=product.id,
        recurring_interval="month",
        metered_by=meter.id,
        tiers=[
            PriceTier(up_to=1000, unit_amount_cents=0),
            PriceTier(up_to=None, unit_amount_cents=3),
        ],
        lookup_key=f"messages_overage_{run}",
        nickname="Messages",
        idempotency_key=key("price"),
    )
    return {
        "run": run,
        "product": product,
        "accelerator": accelerator,
        "standard": standard,
        "setup_fee": setup_fee,
        "meter": meter,
        "overage": overage,
    }


@pytest.fixture
def customer(stripe_gateway):
    return stripe_gateway.create_customer(
        email="owner@acme.test",
        name="Acme Boutique",
        metadata={"org_id": "42"},
        idempotency_key=key("customer"),
    )


def subscribe(gateway, sandbox, catalogue, customer, *, setup_fee=True, metered=False):
    session = gateway.create_checkout_session(
        customer_id=customer.id,
        price_id=catalogue["accelerator"].id,
        setup_fee_price_id=catalogue["setup_fee"].id if setup_fee else None,
        metered_price_id=catalogue["overage"].id if metered else None,
        client_reference_id="42",
        subscription_metadata={"org_id": "42", "plan": "accelerator"},
        success_url="http://acme.localhost/billing/done?session={CHECKOUT_SESSION_ID}",
        cancel_url="http://acme.localhost/billing/plans",
        idempotency_key=key("checkout"),
    )
    sandbox.complete_checkout(session.id)
    return gateway.retrieve_checkout_session(session.id)


# --- Customers -----------------------------------------------------------------------------


def test_customers_are_created_retrieved_and_updated(stripe_gateway):
    created = stripe_gateway.create_customer(
        email="owner@acme.test",
        name="Acme",
        metadata={"org_id": "7"},
        idempotency_key=key("customer"),
    )
    assert created.id.startswith("cus_")
    assert (created.email, created.name, created.metadata) == (
        "owner@acme.test",
        "Acme",
        {"org_id": "7"},
    )
    assert created.created.tzinfo is not None

    updated = stripe_gateway.update_customer(
        created.id, email="billing@acme.test", metadata={"plan": "standard"}
    )
    assert updated.email == "billing@acme.test"
    assert updated.metadata == {"org_id": "7", "plan": "standard"}  # Stripe merges metadata
    assert stripe_gateway.retrieve_customer(created.id) == updated


def test_the_same_idempotency_key_twice_creates_one_customer(stripe_gateway):
    same_key = key("customer:org-9")
    first = stripe_gateway.create_customer(email="a@b.test", idempotency_key=same_key)
    second = stripe_gateway.create_customer(email="a@b.test", idempotency_key=same_key)
    other = stripe_gateway.create_customer(email="a@b.test", idempotency_key=key("customer"))
    assert first.id == second.id
    assert other.id != first.id


def test_reusing_a_key_for_different_parameters_is_refused(stripe_gateway):
    same_key = key("customer")
    stripe_gateway.create_customer(email="a@b.test", idempotency_key=same_key)
    with pytest.raises(ProviderRequestError) as raised:
        stripe_gateway.create_customer(email="someone-else@b.test", idempotency_key=same_key)
    assert "same parameters" in raised.value.message


def test_creates_require_an_idempotency_key(stripe_gateway):
    with pytest.raises(ValueError, match="idempotency_key"):
        stripe_gateway.create_customer(email="a@b.test", idempotency_key="")


# --- Products, prices, meters --------------------------------------------------------------


def test_prices_are_found_by_lookup_key(stripe_gateway, catalogue):
    run = catalogue["run"]
    standard = stripe_gateway.price_by_lookup_key(f"standard_monthly_{run}")
    assert standard.id == catalogue["standard"].id
    assert (standard.unit_amount_cents, standard.interval, standard.type) == (
        15000,
        "month",
        "recurring",
    )
    assert standard.product.name == "Textwise"
    assert stripe_gateway.price_by_lookup_key(f"no_such_key_{run}") is None

    found = stripe_gateway.list_prices(
        lookup_keys=[f"accelerator_setup_{run}", f"messages_overage_{run}"]
    )
    assert {price.id for price in found} == {catalogue["setup_fee"].id, catalogue["overage"].id}
    setup_fee = next(price for price in found if price.id == catalogue["setup_fee"].id)
    assert (setup_fee.type, setup_fee.unit_amount_cents, setup_fee.is_recurring) == (
        "one_time",
        59700,
        False,
    )
    overage = stripe_gateway.retrieve_price(catalogue["overage"].id)
    assert overage.is_metered and overage.meter_id == catalogue["meter"].id
    assert [(t.up_to, t.unit_amount_cents) for t in overage.tiers] == [(1000, 0), (None, 3)]
    assert stripe_gateway.retrieve_product(catalogue["product"].id).name == "Textwise"


def test_a_lookup_key_moves_to_a_new_price_only_when_asked(stripe_gateway, catalogue):
    run = catalogue["run"]
    with pytest.raises(ProviderRequestError):
        stripe_gateway.create_price(
            product_id=catalogue["product"].id,
            unit_amount_cents=17900,
            recurring_interval="month",
            lookup_key=f"standard_monthly_{run}",
            idempotency_key=key("price"),
        )
    moved = stripe_gateway.create_price(
        product_id=catalogue["product"].id,
        unit_amount_cents=17900,
        recurring_interval="month",
        lookup_key=f"standard_monthly_{run}",
        transfer_lookup_key=True,
        idempotency_key=key("price"),
    )
    assert stripe_gateway.price_by_lookup_key(f"standard_monthly_{run}").id == moved.id


def test_meters_are_listed(stripe_gateway, catalogue):
    meters = {meter.id: meter for meter in stripe_gateway.list_meters()}
    meter = meters[catalogue["meter"].id]
    assert (
        meter.event_name,
        meter.formula,
        meter.customer_payload_key,
        meter.value_payload_key,
    ) == (
        f"messages_{catalogue['run']}",
        "sum",
        "stripe_customer_id",
        "value",
    )


def test_meter_events_count_once_per_identifier(stripe_gateway, catalogue, customer):
    event_name = catalogue["meter"].event_name
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    identifier = f"messages:{customer.id}:{hour:%Y%m%d%H}"
    for _ in range(2):  # a retried task sends the same aggregate again
        event = stripe_gateway.create_meter_event(
            event_name=event_name,
            stripe_customer_id=customer.id,
            value=120,
            identifier=identifier,
            timestamp=hour,
        )
        assert event.identifier == identifier and event.payload["value"] == "120"
    stripe_gateway.create_meter_event(
        event_name=event_name,
        stripe_customer_id=customer.id,
        value=30,
        identifier=f"{identifier}:b",
        timestamp=hour,
    )
    total = stripe_gateway.meter_usage_total(
        catalogue["meter"].id,
        customer_id=customer.id,
        start=hour - timedelta(hours=1),
        end=hour + timedelta(hours=1),
    )
    assert total == 150


def test_a_meter_event_for_an_unknown_meter_is_refused(stripe_gateway, customer):
    with pytest.raises(ProviderRequestError) as raised:
        stripe_gateway.create_meter_event(
            event_name="no_such_meter",
            stripe_customer_id=customer.id,
            value=1,
            identifier=key("usage"),
        )
    assert raised.value.http_status == 400


# --- Checkout, subscriptions, invoices ------------------------------------------------------


def test_checkout_with_a_setup_fee_charges_it_on_the_first_invoice_only(
    stripe_gateway, stripe_sandbox, catalogue, customer
):
    session = stripe_gateway.create_checkout_session(
        customer_id=customer.id,
        price_id=catalogue["accelerator"].id,
        setup_fee_price_id=catalogue["setup_fee"].id,
        client_reference_id="42",
        subscription_metadata={"org_id": "42"},
        success_url="http://acme.localhost/done?session={CHECKOUT_SESSION_ID}",
        cancel_url="http://acme.localhost/plans",
        idempotency_key=key("checkout"),
    )
    assert session.id.startswith("cs_") and session.url.startswith(stripe_sandbox.url)
    assert (session.status, session.payment_status, session.amount_total_cents) == (
        "open",
        "unpaid",
        74700,
    )
    assert session.subscription_id is None

    stripe_sandbox.complete_checkout(session.id)
    done = stripe_gateway.retrieve_checkout_session(session.id)
    assert (done.status, done.payment_status, done.client_reference_id) == (
        "complete",
        "paid",
        "42",
    )
    subscription = done.subscription
    assert subscription.id == done.subscription_id and subscription.id.startswith("sub_")
    assert subscription.status == "active"
    assert subscription.metadata == {"org_id": "42"}
    assert subscription.price_ids == (catalogue["accelerator"].id,)
    assert subscription.current_period_end > subscription.current_period_start

    first = stripe_gateway.retrieve_invoice(subscription.latest_invoice_id)
    assert (first.status, first.billing_reason, first.total_cents) == (
        "paid",
        "subscription_create",
        74700,
    )
    assert sorted(line.amount_cents for line in first.lines) == [15000, 59700]

    renewal = stripe_sandbox.advance(subscription.id)["invoice"]
    renewed = stripe_gateway.retrieve_invoice(renewal["id"])
    assert (renewed.status, renewed.billing_reason, renewed.total_cents) == (
        "paid",
        "subscription_cycle",
        15000,
    )
    assert [line.price_id for line in renewed.lines] == [catalogue["accelerator"].id]
    invoices = stripe_gateway.list_invoices(customer.id)
    assert [invoice.id for invoice in invoices] == [renewed.id, first.id]  # newest first


def test_metered_overage_is_billed_after_the_period(
    stripe_gateway, stripe_sandbox, catalogue, customer
):
    session = subscribe(
        stripe_gateway, stripe_sandbox, catalogue, customer, setup_fee=False, metered=True
    )
    subscription = session.subscription
    assert {item.price.id for item in subscription.items} == {
        catalogue["accelerator"].id,
        catalogue["overage"].id,
    }
    assert subscription.plan_item.price.id == catalogue["accelerator"].id
    stripe_gateway.create_meter_event(
        event_name=catalogue["meter"].event_name,
        stripe_customer_id=customer.id,
        value=1200,
        identifier=key("usage"),
    )
    renewal = stripe_gateway.retrieve_invoice(
        stripe_sandbox.advance(subscription.id)["invoice"]["id"]
    )
    # 1,000 messages included (0 cents), 200 beyond at 3 cents, plus the next month's plan.
    assert renewal.total_cents == 15000 + 200 * 3
    overage_line = next(line for line in renewal.lines if line.price_id == catalogue["overage"].id)
    assert (overage_line.quantity, overage_line.amount_cents) == (1200, 600)


def test_subscriptions_change_plan_and_cancel(stripe_gateway, stripe_sandbox, catalogue, customer):
    subscription = subscribe(stripe_gateway, stripe_sandbox, catalogue, customer).subscription

    downgraded = stripe_gateway.change_subscription_price(
        subscription.id, new_price_id=catalogue["standard"].id
    )
    assert downgraded.price_ids == (catalogue["standard"].id,)
    assert downgraded.plan_item.id == subscription.plan_item.id  # the same item, a new price

    ending = stripe_gateway.cancel_subscription(subscription.id, at_period_end=True)
    assert (ending.status, ending.cancel_at_period_end) == ("active", True)
    resumed = stripe_gateway.resume_subscription(subscription.id)
    assert resumed.cancel_at_period_end is False

    listed = stripe_gateway.list_subscriptions(customer.id)
    assert [sub.id for sub in listed] == [subscription.id]

    ended = stripe_gateway.cancel_subscription(subscription.id, at_period_end=False)
    assert ended.status == "canceled" and ended.ended_at is not None
    # A retried cancel replays the first answer instead of failing.
    again = stripe_gateway.cancel_subscription(subscription.id, at_period_end=False)
    assert again.status == "canceled"
    assert stripe_gateway.retrieve_subscription(subscription.id).status == "canceled"
    assert stripe_gateway.list_subscriptions(customer.id, status="active") == []


def test_checkout_sessions_can_be_expired(stripe_gateway, catalogue, customer):
    session = stripe_gateway.create_checkout_session(
        customer_id=customer.id,
        price_id=catalogue["standard"].id,
        success_url="http://x.test/ok",
        cancel_url="http://x.test/no",
        idempotency_key=key("checkout"),
    )
    expired = stripe_gateway.expire_checkout_session(session.id)
    assert (expired.status, expired.url) == ("expired", None)


def test_checkout_without_a_recurring_price_is_refused(stripe_gateway, catalogue, customer):
    with pytest.raises(ProviderRequestError) as raised:
        stripe_gateway.create_checkout_session(
            customer_id=customer.id,
            price_id=catalogue["setup_fee"].id,
            success_url="http://x.test/ok",
            cancel_url="http://x.test/no",
            idempotency_key=key("checkout"),
        )
    assert "recurring price" in raised.value.message


def test_portal_sessions_point_at_the_portal(stripe_gateway, stripe_sandbox, customer):
    portal = stripe_gateway.create_portal_session(
        customer_id=customer.id,
        return_url="http://acme.localhost/billing",
        idempotency_key=key("portal"),
    )
    assert portal.id.startswith("bps_")
    assert portal.url.startswith(f"{stripe_sandbox.url}/p/session/")
    assert portal.return_url == "http://acme.localhost/billing"


# --- Failures --------------------------------------------------------------------------------


def test_a_declined_renewal_leaves_the_subscription_past_due_until_paid(
    stripe_gateway, stripe_sandbox, catalogue, customer
):
    subscription = subscribe(stripe_gateway, stripe_sandbox, catalogue, customer).subscription
    stripe_sandbox.fail_next_payment(customer.id, count=2)

    failed = stripe_sandbox.advance(subscription.id)["invoice"]
    assert stripe_gateway.retrieve_subscription(subscription.id).status == "past_due"
    invoice = stripe_gateway.retrieve_invoice(failed["id"])
    assert (invoice.status, invoice.attempt_count, invoice.amount_remaining_cents) == (
        "open",
        1,
        15000,
    )
    assert invoice.next_payment_attempt is not None

    with pytest.raises(PaymentDeclinedError) as raised:
        stripe_gateway.pay_invoice(invoice.id, idempotency_key=key("retry"))
    assert raised.value.plain_reason == "The card was declined. Please use another card."
    assert raised.value.http_status == 402

    paid = stripe_gateway.pay_invoice(invoice.id, idempotency_key=key("retry"))
    assert paid.status == "paid"
    assert stripe_gateway.retrieve_subscription(subscription.id).status == "active"


def test_unknown_objects_are_request_errors(stripe_gateway):
    with pytest.raises(ProviderRequestError) as raised:
        stripe_gateway.retrieve_customer("cus_doesnotexist")
    assert (raised.value.code, raised.value.http_status) == ("resource_missing", 404)
    assert raised.value.provider == "stripe"


def test_a_wrong_secret_key_is_an_auth_error(stripe_sandbox):
    gateway = StripeGateway(
        secret_key="sk_test_wrong", api_base=stripe_sandbox.url, max_network_retries=0
    )
    with pytest.raises(ProviderAuthError) as raised:
        gateway.retrieve_customer("cus_any")
    assert raised.value.http_status == 401


def test_rate_limits_are_retryable(stripe_gateway, stripe_sandbox):
    stripe_sandbox.fault(status=429, path="/v1/customers", count=1)
    with pytest.raises(RetryableError) as raised:
        stripe_gateway.create_customer(email="a@b.test", idempotency_key=key("customer"))
    assert raised.value.http_status == 429


def test_a_5xx_on_a_keyed_create_is_retryable_with_the_same_key(stripe_gateway, stripe_sandbox):
    stripe_sandbox.fault(status=500, path="/v1/customers", method="POST", count=1)
    same_key = key("customer")
    with pytest.raises(RetryableError):
        stripe_gateway.create_customer(email="a@b.test", idempotency_key=same_key)
    created = stripe_gateway.create_customer(email="a@b.test", idempotency_key=same_key)
    assert stripe_gateway.retrieve_customer(created.id).email == "a@b.test"


def test_a_5xx_on_an_unkeyed_update_is_ambiguous(stripe_gateway, stripe_sandbox, customer):
    stripe_sandbox.fault(status=500, path=f"/v1/customers/{customer.id}", method="POST", count=1)
    with pytest.raises(AmbiguousOutcome):
        stripe_gateway.update_customer(customer.id, name="Renamed")


def test_a_timeout_is_retryable(stripe_sandbox):
    gateway = StripeGateway(
        secret_key=stripe_sandbox.secret_key,
        api_base=stripe_sandbox.url,
        read_timeout=0.3,
        max_network_retries=0,
    )
    stripe_sandbox.fault(delay_seconds=1, path="/v1/customers", method="POST", count=1)
    with pytest.raises(RetryableError) as raised:
        gateway.create_customer(email="a@b.test", idempotency_key=key("customer"))
    assert raised.value.http_status is None


def test_the_gateway_pins_the_spec_api_version():
    assert API_VERSION == "2024-04-10"

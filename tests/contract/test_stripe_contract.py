"""Contract: the requests the Stripe gateway sends and the sandbox's answers conform to Stripe's
OpenAPI spec (2024-04-10). Every test that talks to the sandbox is checked after it runs
(tests/stripe_sandbox.py); these tests make sure the check covers every route the gateway uses
and that it really refuses what the spec forbids."""

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from smsplatform.providers.stripe import PriceTier
from tests.contract.stripe_spec import event_problems, problems_in

# Every Stripe operation the gateway offers, as (method, path template in the spec).
GATEWAY_ROUTES = {
    ("POST", "/v1/customers"),
    ("GET", "/v1/customers/{customer}"),
    ("POST", "/v1/customers/{customer}"),
    ("POST", "/v1/products"),
    ("GET", "/v1/products/{id}"),
    ("POST", "/v1/prices"),
    ("GET", "/v1/prices"),
    ("GET", "/v1/prices/{price}"),
    ("POST", "/v1/checkout/sessions"),
    ("GET", "/v1/checkout/sessions/{session}"),
    ("POST", "/v1/checkout/sessions/{session}/expire"),
    ("POST", "/v1/billing_portal/sessions"),
    ("GET", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions/{subscription_exposed_id}"),
    ("POST", "/v1/subscriptions/{subscription_exposed_id}"),
    ("DELETE", "/v1/subscriptions/{subscription_exposed_id}"),
    ("GET", "/v1/invoices"),
    ("GET", "/v1/invoices/{invoice}"),
    ("POST", "/v1/invoices/{invoice}/pay"),
    ("POST", "/v1/billing/meters"),
    ("GET", "/v1/billing/meters"),
    ("POST", "/v1/billing/meter_events"),
    ("GET", "/v1/billing/meters/{id}/event_summaries"),
}


def _key(label):
    return f"{label}:{uuid.uuid4().hex}"


def test_every_gateway_operation_is_checked_against_the_spec(stripe_gateway, stripe_sandbox):
    """One pass through every gateway call; each exchange must validate (the same check runs
    after every test)."""
    stripe_sandbox.new_journal_entries()  # start from here
    g = stripe_gateway
    run = uuid.uuid4().hex[:8]
    customer = g.create_customer(
        email="c@contract.test", metadata={"org_id": "1"}, idempotency_key=_key("c")
    )
    g.retrieve_customer(customer.id)
    g.update_customer(customer.id, name="Contract Co")
    product = g.create_product(name="Plans", idempotency_key=_key("p"))
    g.retrieve_product(product.id)
    monthly = g.create_price(
        product_id=product.id,
        unit_amount_cents=15000,
        recurring_interval="month",
        lookup_key=f"contract_monthly_{run}",
        idempotency_key=_key("pr"),
    )
    other = g.create_price(
        product_id=product.id,
        unit_amount_cents=9900,
        recurring_interval="month",
        idempotency_key=_key("pr"),
    )
    setup = g.create_price(
        product_id=product.id, unit_amount_cents=59700, idempotency_key=_key("pr")
    )
    meter = g.create_meter(
        event_name=f"contract_{run}", display_name="Messages", idempotency_key=_key("m")
    )
    metered = g.create_price(
        product_id=product.id,
        recurring_interval="month",
        metered_by=meter.id,
        tiers=[
            PriceTier(up_to=10, unit_amount_cents=0),
            PriceTier(up_to=None, unit_amount_cents=2),
        ],
        idempotency_key=_key("pr"),
    )
    g.list_meters()
    g.price_by_lookup_key(f"contract_monthly_{run}")
    g.retrieve_price(metered.id)
    session = g.create_checkout_session(
        customer_id=customer.id,
        price_id=monthly.id,
        setup_fee_price_id=setup.id,
        metered_price_id=metered.id,
        client_reference_id="1",
        subscription_metadata={"org_id": "1"},
        metadata={"org_id": "1"},
        success_url="http://x.test/ok?s={CHECKOUT_SESSION_ID}",
        cancel_url="http://x.test/no",
        idempotency_key=_key("cs"),
    )
    abandoned = g.create_checkout_session(
        customer_email="c@contract.test",
        price_id=monthly.id,
        success_url="http://x.test/ok",
        cancel_url="http://x.test/no",
        idempotency_key=_key("cs"),
    )
    g.expire_checkout_session(abandoned.id)
    stripe_sandbox.complete_checkout(session.id)
    subscription = g.retrieve_checkout_session(session.id).subscription
    g.create_portal_session(
        customer_id=customer.id, return_url="http://x.test/b", idempotency_key=_key("bps")
    )
    g.create_meter_event(
        event_name=meter.event_name,
        stripe_customer_id=customer.id,
        value=25,
        identifier=_key("usage"),
        timestamp=datetime.now(UTC),
    )
    g.meter_usage_total(
        meter.id,
        customer_id=customer.id,
        start=datetime.now(UTC) - timedelta(days=1),
        end=datetime.now(UTC) + timedelta(minutes=5),
    )
    g.change_subscription_price(subscription.id, new_price_id=other.id, idempotency_key=_key("up"))
    g.cancel_subscription(subscription.id, at_period_end=True)
    g.resume_subscription(subscription.id)
    g.list_subscriptions(customer.id)
    stripe_sandbox.fail_next_payment(customer.id)
    renewal = stripe_sandbox.advance(subscription.id)["invoice"]
    g.retrieve_invoice(renewal["id"])
    g.pay_invoice(renewal["id"], idempotency_key=_key("pay"))
    g.list_invoices(customer.id)
    g.retrieve_subscription(subscription.id)
    g.cancel_subscription(subscription.id, at_period_end=False)

    entries = stripe_sandbox.control("GET", f"journal?after={stripe_sandbox.journal_seen}")[
        "entries"
    ]
    assert {(entry["method"], entry["route"]) for entry in entries} >= GATEWAY_ROUTES
    assert {entry["stripe_version"] for entry in entries} == {"2024-04-10"}
    assert {entry["user_agent"].split("/")[0] for entry in entries} == {"Stripe"}  # the SDK's

    # The events of all that, as a webhook carries them, conform too.
    mine = {customer.id, subscription.id}
    events = [
        event
        for event in stripe_sandbox.events()
        if mine & {event["data"]["object"].get("id"), event["data"]["object"].get("customer")}
    ]
    assert {event["type"] for event in events} >= {
        "customer.created", "customer.updated", "checkout.session.completed",
        "customer.subscription.created", "customer.subscription.updated",
        "customer.subscription.deleted", "invoice.created", "invoice.finalized", "invoice.paid",
        "invoice.payment_succeeded", "invoice.payment_failed",
    }  # fmt: skip
    for event in events:
        del event["deliveries"]  # the sandbox's delivery log, not part of the event
    assert [problem for event in events for problem in event_problems(event)] == []
    assert [problem for entry in entries for problem in problems_in(entry)] == []


@pytest.fixture
def customer_exchange(stripe_gateway, stripe_sandbox) -> dict:
    """A real, valid journal entry to break in the tests below."""
    stripe_sandbox.new_journal_entries()
    stripe_gateway.create_customer(
        email="a@b.test", metadata={"org_id": "1"}, idempotency_key=_key("c")
    )
    entries = stripe_sandbox.control("GET", f"journal?after={stripe_sandbox.journal_seen}")[
        "entries"
    ]
    entry = entries[-1]
    assert (entry["method"], entry["route"]) == ("POST", "/v1/customers")
    assert problems_in(entry) == []
    return copy.deepcopy(entry)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/v1/customers", "email=a%40b.test&colour=red", "colour"),  # not a parameter
        ("/v1/prices", "currency=usd&unit_amount=lots&product=prod_1", "integer"),
        ("/v1/prices", "unit_amount=100&product=prod_1", "currency"),  # required
        (
            "/v1/checkout/sessions",
            "mode=subscriptions&line_items[0][price]=price_1&success_url=http://x",
            "subscriptions",
        ),  # not in the enum
        ("/v1/billing/meter_events", "event_name=messages", "payload"),  # required
        ("/v1/no_such_endpoint", "a=b", "Path not found"),
    ],
)
def test_the_check_refuses_requests_the_spec_forbids(customer_exchange, path, body, expected):
    entry = dict(customer_exchange, path=path, body=body)
    problems = problems_in(entry)
    assert problems and expected in " ".join(problems)


def test_the_check_refuses_unauthenticated_requests(customer_exchange):
    problems = problems_in(dict(customer_exchange, authorization=""))
    assert problems and "security" in " ".join(problems).lower()


def test_the_check_refuses_another_api_version(customer_exchange):
    problems = problems_in(dict(customer_exchange, stripe_version="2026-10-28.endive"))
    assert problems and "Stripe-Version" in problems[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda body: body.pop("id"), "id"),
        (lambda body: body.update(object="client"), "client"),
        (lambda body: body.update(created="yesterday"), "yesterday"),
        (lambda body: body.update(livemode=None), "livemode"),
    ],
)
def test_the_check_refuses_responses_the_spec_forbids(customer_exchange, change, expected):
    body = json.loads(customer_exchange["response"])
    change(body)
    problems = problems_in(dict(customer_exchange, response=json.dumps(body)))
    assert problems and expected in " ".join(problems)


def test_error_bodies_match_the_spec(stripe_sandbox, stripe_gateway):
    from smsplatform.providers.errors import ProviderRequestError

    stripe_sandbox.new_journal_entries()
    with pytest.raises(ProviderRequestError):
        stripe_gateway.retrieve_invoice("in_missing")
    entry = stripe_sandbox.control("GET", f"journal?after={stripe_sandbox.journal_seen}")[
        "entries"
    ][-1]
    assert entry["status"] == 404
    assert json.loads(entry["response"])["error"]["code"] == "resource_missing"
    assert problems_in(entry) == []
    broken = dict(entry, response=json.dumps({"error": {"type": "oops", "message": "x"}}))
    assert problems_in(broken)


def test_the_event_check_refuses_malformed_events(stripe_gateway, stripe_sandbox):
    customer = stripe_gateway.create_customer(email="e@v.test", idempotency_key=_key("c"))
    event = next(
        e
        for e in stripe_sandbox.events("customer.created")
        if e["data"]["object"]["id"] == customer.id
    )
    del event["deliveries"]
    assert event_problems(event) == []
    assert event_problems({**event, "created": "now"})
    broken = copy.deepcopy(event)
    broken["data"]["object"]["livemode"] = "no"
    assert event_problems(broken)

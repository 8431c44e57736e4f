"""The Stripe sandbox on the wire, with a plain HTTP client: Stripe's encoding, authentication,
errors, idempotency, pagination, limits and persistence."""

import base64
import tempfile
import threading
import uuid

import pytest
import requests

from tests.live import free_port
from tests.stripe_sandbox import SANDBOX_SECRET_KEY, start_stripe_sandbox


@pytest.fixture
def api(stripe_sandbox):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {SANDBOX_SECRET_KEY}"

    def call(method, path, data=None, **kwargs):
        return session.request(method, f"{stripe_sandbox.url}{path}", data=data, **kwargs)

    return call


def test_bracket_encoded_parameters_and_expand(api):
    customer = api(
        "POST", "/v1/customers", data="email=a%40b.test&metadata[org_id]=42&metadata[plan]=std"
    ).json()
    assert customer["object"] == "customer" and customer["id"].startswith("cus_")
    assert customer["metadata"] == {"org_id": "42", "plan": "std"}
    assert customer["livemode"] is False

    product = api("POST", "/v1/products", data={"name": "Textwise"}).json()
    body = (
        f"product={product['id']}&currency=usd&unit_amount=15000&recurring[interval]=month"
        f"&lookup_key=std_{uuid.uuid4().hex}"
    )
    price = api("POST", "/v1/prices", data=body).json()
    assert price["recurring"]["interval"] == "month" and price["unit_amount"] == 15000

    session = api(
        "POST",
        "/v1/checkout/sessions",
        data=(
            f"mode=subscription&customer={customer['id']}&line_items[0][price]={price['id']}"
            "&line_items[0][quantity]=1&success_url=http://x.test/ok&cancel_url=http://x.test/no"
            "&subscription_data[metadata][org_id]=42&expand[]=customer&expand[]=line_items"
        ),
    ).json()
    assert session["customer"]["email"] == "a@b.test"  # expanded
    assert session["line_items"]["data"][0]["price"]["id"] == price["id"]

    listed = api(
        "GET", f"/v1/prices?lookup_keys[]={price['lookup_key']}&expand[]=data.product"
    ).json()
    assert listed["object"] == "list"
    assert [p["id"] for p in listed["data"]] == [price["id"]]
    assert listed["data"][0]["product"]["name"] == "Textwise"


def test_authentication_accepts_bearer_and_basic_and_refuses_the_rest(stripe_sandbox):
    url = f"{stripe_sandbox.url}/v1/customers"
    basic = base64.b64encode(f"{SANDBOX_SECRET_KEY}:".encode()).decode()
    with_basic = requests.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=5)
    assert with_basic.status_code == 200

    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in missing.json()["error"]["message"]

    wrong = requests.get(
        url, headers={"Authorization": "Bearer sk_test_0123456789abcdef"}, timeout=5
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "Invalid API Key provided: sk_test_****cdef"


def test_errors_have_stripes_shape(api):
    missing = api("GET", "/v1/customers/cus_nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such customer: 'cus_nope'",
        "param": "id",
        "type": "invalid_request_error",
    }
    assert missing.headers["Request-Id"].startswith("req_")

    invalid = api("POST", "/v1/prices", data={"currency": "usd"})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "parameter_missing"

    unknown = api("GET", "/v1/no_such_thing")
    assert unknown.status_code == 404
    assert "Unrecognized request URL" in unknown.json()["error"]["message"]


def test_idempotency_keys_replay_or_refuse(api):
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = api("POST", "/v1/customers", data={"email": "a@b.test"}, headers=key)
    again = api("POST", "/v1/customers", data={"email": "a@b.test"}, headers=key)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"

    different = api("POST", "/v1/customers", data={"email": "other@b.test"}, headers=key)
    assert different.status_code == 400
    assert different.json()["error"]["type"] == "idempotency_error"

    # A refused (invalid) request stores nothing: the same key then works with good params.
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    assert api("POST", "/v1/prices", data={"currency": "usd"}, headers=key).status_code == 400
    product = api("POST", "/v1/products", data={"name": "P"}).json()
    fixed = {"currency": "usd", "unit_amount": "100", "product": product["id"]}
    assert api("POST", "/v1/prices", data=fixed, headers=key).status_code == 200


def test_lists_paginate_newest_first(api):
    email = f"{uuid.uuid4().hex}@page.test"
    ids = [api("POST", "/v1/customers", data={"email": email}).json()["id"] for _ in range(3)]
    first = api("GET", f"/v1/customers?email={email}&limit=2").json()
    assert [c["id"] for c in first["data"]] == [ids[2], ids[1]]
    assert first["has_more"] is True
    rest = api("GET", f"/v1/customers?email={email}&limit=2&starting_after={ids[1]}").json()
    assert [c["id"] for c in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False


def test_concurrency_beyond_the_limit_is_rate_limited(api, stripe_sandbox):
    stripe_sandbox.configure(latency_ms=400, max_concurrency=1)
    try:
        statuses = []

        def call():
            statuses.append(api("GET", "/v1/customers?limit=1").status_code)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stripe_sandbox.configure(latency_ms=0, max_concurrency=0)
    assert sorted(statuses) == [200, 429, 429]


def test_the_hosted_invoice_page_shows_the_lines(api, stripe_sandbox, stripe_gateway):
    product = api("POST", "/v1/products", data={"name": "Textwise"}).json()
    price = api(
        "POST",
        "/v1/prices",
        data=f"product={product['id']}&currency=usd&unit_amount=15000&recurring[interval]=month",
    ).json()
    session = api(
        "POST",
        "/v1/checkout/sessions",
        data=f"mode=subscription&line_items[0][price]={price['id']}&line_items[0][quantity]=1"
        "&customer_email=new%40shop.test&success_url=http://x.test/ok",
    ).json()
    stripe_sandbox.complete_checkout(session["id"])
    done = api("GET", f"/v1/checkout/sessions/{session['id']}?expand[]=invoice").json()
    assert done["customer_details"]["email"] == "new@shop.test"  # a customer was created
    page = requests.get(done["invoice"]["hosted_invoice_url"], timeout=5)
    assert page.status_code == 200
    assert "$150.00" in page.text and "Textwise" in page.text


def test_state_survives_a_restart():
    port = free_port()
    with tempfile.TemporaryDirectory() as state_dir:
        headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
        url = f"http://127.0.0.1:{port}"
        sandbox = start_stripe_sandbox(port, state_dir)
        try:
            created = requests.post(
                f"{url}/v1/customers", data={"email": "kept@b.test"}, headers=headers, timeout=5
            ).json()
        finally:
            sandbox.stop()
        sandbox = start_stripe_sandbox(port, state_dir)
        try:
            again = requests.get(f"{url}/v1/customers/{created['id']}", headers=headers, timeout=5)
        finally:
            sandbox.stop()
    assert again.status_code == 200
    assert again.json()["email"] == "kept@b.test"

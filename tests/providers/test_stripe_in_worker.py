"""The gateway in a real Celery worker: the live processes talk to the session's sandbox, and a
task retried after its Stripe call creates nothing twice."""

import uuid

import pytest
import requests

from tests.tasks_for_tests import create_stripe_customer


@pytest.mark.live
def test_a_retried_task_creates_one_customer(celery_worker, stripe_sandbox, stripe_gateway):
    org_key = uuid.uuid4().hex
    email = f"{org_key}@retry.test"

    customer_id = create_stripe_customer.delay(org_key, email, fail_after_call=True).get(timeout=30)

    listed = requests.get(
        f"{stripe_sandbox.url}/v1/customers",
        params={"email": email},
        headers={"Authorization": f"Bearer {stripe_sandbox.secret_key}"},
        timeout=5,
    ).json()["data"]
    assert [customer["id"] for customer in listed] == [customer_id]
    calls = [
        entry
        for entry in stripe_sandbox.control("GET", "journal?after=0")["entries"]
        if entry["idempotency_key"] == f"customer:{org_key}"
    ]
    assert len(calls) == 2  # the task did call Stripe twice
    assert stripe_gateway.retrieve_customer(customer_id).metadata == {"org": org_key}

"""Tasks the test worker loads (celery -I tests.tasks_for_tests) to observe the worker from
inside: they are not part of the product."""

from celery import shared_task
from django.db import connection


@shared_task(ignore_result=False)
def report_schema():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        current_schema = cursor.fetchone()[0]
    return {"connection": connection.schema_name, "current_schema": current_schema}


@shared_task(bind=True, ignore_result=False, max_retries=1)
def create_stripe_customer(self, org_key, email, fail_after_call=False):
    """Creates a Stripe customer under a deterministic idempotency key; with
    ``fail_after_call`` the first run fails after Stripe answered (a worker lost mid-task) and
    the task is retried, as Celery does with acks_late."""
    from smsplatform.providers.stripe import gateway

    customer = gateway().create_customer(
        email=email, metadata={"org": org_key}, idempotency_key=f"customer:{org_key}"
    )
    if fail_after_call and self.request.retries == 0:
        raise self.retry(countdown=0)
    return customer.id

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

"""The Celery app. tenant-schemas-celery's CeleryApp stamps every task sent from inside a tenant
with that tenant's schema (header ``_schema_name``) and switches the worker's connection to it
before the task runs, so a task never guesses its tenant."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsplatform.settings")

app = CeleryApp("smsplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

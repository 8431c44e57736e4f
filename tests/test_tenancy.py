"""Tenancy plumbing: cache keys, Celery tasks and the audit log."""

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from organizations.models import AuditLog
from tests.tasks_for_tests import report_schema


def test_cache_keys_are_scoped_to_the_organization(acme, globex):
    with tenant_context(acme):
        cache.set("greeting", "hello from acme", 30)
    with tenant_context(globex):
        assert cache.get("greeting") is None
        cache.set("greeting", "hello from globex", 30)
    with tenant_context(acme):
        assert cache.get("greeting") == "hello from acme"
    with schema_context("public"):
        assert cache.get("greeting") is None


@pytest.mark.live
def test_a_task_sent_from_a_tenant_runs_in_that_tenants_schema(acme, globex, celery_worker):
    with tenant_context(acme):
        from_acme = report_schema.delay()
    with tenant_context(globex):
        from_globex = report_schema.delay()
    from_public = report_schema.delay()

    assert from_acme.get(timeout=30) == {"connection": "acme", "current_schema": "acme"}
    assert from_globex.get(timeout=30) == {"connection": "globex", "current_schema": "globex"}
    assert from_public.get(timeout=30) == {"connection": "public", "current_schema": "public"}
    assert connection.schema_name == "public"


def test_the_audit_log_is_append_only(acme, world):
    entry = AuditLog.objects.filter(organization=acme).first()
    entry.action = "tampered"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditLog.objects.filter(organization=acme).delete()

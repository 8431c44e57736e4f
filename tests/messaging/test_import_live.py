"""Imports run by the real processes: a Celery worker picks the job up from the queue, and a
worker killed in the middle of an import leaves nothing behind. These tests commit, so each
cleans up what it created."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.files.storage import default_storage
from django.db import connection, connections
from django_tenants.utils import tenant_context

from messaging.importing import jobs
from messaging.models import Contact, ImportJob
from organizations.models import Organization
from tests.live import ROOT

CONSENT = "Everyone in this file signed up on our website for marketing texts."


@pytest.fixture(autouse=True)
def _close_connections_afterwards():
    """Once the browser tests' Playwright loop runs in this thread, Django keys connections by
    context: close the ones these tests opened, or the test database cannot be dropped."""
    yield
    connections.close_all()


def wait_until_finished(job, timeout=60) -> ImportJob:
    deadline = time.monotonic() + timeout
    while not job.is_finished:
        assert time.monotonic() < deadline, f"import still {job.status} after {timeout}s"
        time.sleep(0.1)
        job.refresh_from_db()
    return job


def remove(phones, job_ids):
    """Consent events are append-only for the product; tests remove theirs directly."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM messaging_consentevent WHERE phone = ANY(%s)", [phones])
        cursor.execute("DELETE FROM messaging_contact WHERE phone = ANY(%s)", [phones])
        cursor.execute("DELETE FROM messaging_importrejection WHERE job_id = ANY(%s)", [job_ids])
        cursor.execute("DELETE FROM messaging_importjob WHERE id = ANY(%s)", [job_ids])


@pytest.mark.live
def test_the_worker_imports_a_queued_file(world, committed, celery_worker):
    acme = Organization.objects.get(pk=world.acme_id)
    phones = ["+13055550301", "+13055550302"]
    with tenant_context(acme):
        job = jobs.create_import(
            io.BytesIO(b"Phone,First name\n(305) 555-0301,Ada\n305.555.0302,Ben\nnope,x\n"),
            file_name="live.csv",
        )
        stored = job.stored_file
        try:
            jobs.start_import(job, mapping=job.mapping, consent_wording=CONSENT)
            job = wait_until_finished(job)

            assert job.status == ImportJob.Status.DONE, job.error
            assert (job.created_count, job.rejected_count) == (2, 1)
            assert set(Contact.objects.values_list("phone", flat=True)) >= set(phones)
            assert jobs.get_progress(job)["percent"] == 100
            assert not default_storage.exists(stored)  # deleted once no longer needed
        finally:
            remove(phones, [job.pk])


@pytest.mark.live
def test_a_worker_killed_mid_import_leaves_nothing_and_the_retry_starts_clean(
    world, committed, live_env
):
    acme = Organization.objects.get(pk=world.acme_id)
    rows = 20_000
    phones = [f"+1305{i:07d}" for i in range(2_000_000, 2_000_000 + rows)]
    content = "phone\n" + "".join(f"{p[2:]}\n" for p in phones)
    with tenant_context(acme):
        job = jobs.create_import(io.BytesIO(content.encode()), file_name="killed.csv")
        jobs.start_import(job, mapping=job.mapping, consent_wording=CONSENT, enqueue=False)
    script = (
        "from django_tenants.utils import tenant_context\n"
        "from organizations.models import Organization\n"
        "from messaging.importing import jobs\n"
        "with tenant_context(Organization.objects.get(slug='acme')):\n"
        f"    jobs.run_import('{job.pk}')\n"
    )
    env = {**live_env, "IMPORT_CHUNK_ROWS": "250", "DB_APPLICATION_NAME": "test-import-killed"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env
    )
    try:
        with tenant_context(acme):
            deadline = time.monotonic() + 60
            while jobs.get_progress(job)["rows"] < 1000:
                assert worker.poll() is None, "the import ended before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            # Chunks are merged, but inside the import's open transaction: nobody sees them.
            assert not Contact.objects.filter(phone__in=phones).exists()
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            _wait_for_backend_to_go("test-import-killed")

            job.refresh_from_db()
            assert job.status == ImportJob.Status.QUEUED
            assert not Contact.objects.filter(phone__in=phones).exists()

            retried = jobs.run_import(job.pk)  # the redelivered task
            assert retried.status == ImportJob.Status.DONE, retried.error
            assert (retried.created_count, retried.rows_total) == (rows, rows)
            assert Contact.objects.filter(phone__in=phones).count() == rows
    finally:
        if worker.poll() is None:
            worker.kill()
        with tenant_context(acme):
            remove(phones, [job.pk])


def _wait_for_backend_to_go(application_name, timeout=15):
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [application_name],
            )
            if cursor.fetchone()[0] == 0:
                return
            assert time.monotonic() < deadline, "the killed import's connection is still open"
            time.sleep(0.05)

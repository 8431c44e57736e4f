"""Import a contact file for an organization, as an operator: the same checks, mapping
suggestion and all-or-nothing import as an upload on the site.

    python manage.py import_contacts acme contacts.csv \\
        --consent "Signed up at the till for our marketing texts" --list "Walk-ins" --tag vip

By default the import runs on a Celery worker, like one started on the site, and the command
waits for its report; --here runs it in this process instead (no worker needed).
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from messaging.importing import jobs
from messaging.importing.columns import IGNORE, target_label
from messaging.importing.errors import ImportFileError, ImportSetupError
from messaging.models import ContactList, CustomField, ImportJob
from organizations.models import Organization

# How often the waiting command looks at the job: one small query, so often enough that the
# report follows the import's end closely.
POLL_SECONDS = 0.1


class Command(BaseCommand):
    help = "Import contacts from a CSV or Excel file into an organization, with declared consent."
    # Django's system checks validate the project's code, which `check`, the test suite and
    # the server's start-up already do; here they would only delay every import by ~0.3 s.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("organization", help="The organization's slug")
        parser.add_argument("file", help="A .csv or .xlsx file")
        parser.add_argument(
            "--consent",
            required=True,
            help="How these people agreed to receive the organization's marketing texts; "
            "stored word for word on every consent event",
        )
        parser.add_argument("--list", dest="list_name", help="Add everyone to this list")
        parser.add_argument("--tag", action="append", default=[], help="Tag everyone (repeat)")
        parser.add_argument("--here", action="store_true", help="Run here, not on a worker")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait")

    def handle(self, *args, **options):
        organization = Organization.objects.customers().filter(slug=options["organization"])
        organization = organization.first()
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization']!r}.")
        with tenant_context(organization):
            job = self._import(options)
            self._report(job)
        if job.status != ImportJob.Status.DONE:
            raise CommandError(job.error or "The import did not finish.")

    def _import(self, options):
        started = time.monotonic()
        try:
            job = jobs.create_import_from_path(options["file"])
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from None
        except ImportFileError as exc:
            raise CommandError(exc.message) from None
        custom_fields = list(CustomField.objects.all())
        for column, target in zip(job.columns, job.mapping, strict=True):
            if target != IGNORE:
                self.stdout.write(f"  {column} → {target_label(target, custom_fields)}")
        contact_list = None
        if options["list_name"]:
            contact_list, _ = ContactList.objects.get_or_create(name=options["list_name"])
        try:
            job = jobs.start_import(
                job,
                mapping=job.mapping,
                consent_wording=options["consent"],
                contact_list=contact_list,
                tags=options["tag"],
                enqueue=not options["here"],
            )
        except (ImportSetupError, ImportFileError) as exc:
            jobs.delete_upload(job)
            raise CommandError(exc.message) from None
        if options["here"]:
            return jobs.run_import(job.pk) or job
        deadline = started + options["timeout"]
        while not job.is_finished:
            if time.monotonic() > deadline:
                raise CommandError(f"Still importing after {options['timeout']} s (job {job.pk}).")
            time.sleep(POLL_SECONDS)
            job.refresh_from_db()
        return job

    def _report(self, job):
        if job.status == ImportJob.Status.FAILED:
            self.stderr.write(f"Failed: {job.error}")
            return
        seconds = (job.finished_at - job.started_at).total_seconds()
        rate = job.rows_total / seconds if seconds else 0
        self.stdout.write(
            f"{job.rows_total:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s): "
            f"{job.created_count:,} created, {job.updated_count:,} updated, "
            f"{job.skipped_count:,} unchanged, {job.rejected_count:,} rejected"
        )
        for rejection in job.rejections.all()[:20]:
            self.stdout.write(
                f"  line {rejection.line}: {rejection.get_reason_display()} {rejection.detail}"
            )
        if job.rejected_count > 20:
            self.stdout.write(f"  … and {job.rejected_count - 20:,} more rejected rows")
        self.stdout.write(f"Job {job.pk}")

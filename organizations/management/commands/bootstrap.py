"""Bring a database up to date and ready to serve: shared migrations, the public tenant and the
template schema, tenant migrations, and (with --demo) the demo organization. Idempotent: run it
on every start."""

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from billing import services as billing_services
from organizations import services


class Command(BaseCommand):
    help = "Migrate every schema and create the platform's own tenants (and the demo)."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Also create the demo organization")

    def handle(self, *args, demo=False, verbosity=1, **options):
        quiet = {"verbosity": 0, "interactive": False}
        call_command("migrate_schemas", shared=True, **quiet)
        services.ensure_platform_tenants()
        call_command("migrate_schemas", tenant=True, **quiet)
        services.replenish_spare_schemas()
        if demo:
            email = os.environ.get("DEMO_OWNER_EMAIL", "owner@demo.localhost")
            password = os.environ.get("DEMO_OWNER_PASSWORD", "demo-boutique-2026")
            organization, _ = services.ensure_demo_organization(email=email, password=password)
            billing_services.comp_organization(organization, reason="The demo organization")
            self.stdout.write(
                self.style.SUCCESS(
                    f"\n  Demo organization: {organization.url}/\n"
                    f"  Sign in as {email} / {password}\n"
                    f"  Sign up a new organization at {settings.SITE_URL}/\n"
                )
            )

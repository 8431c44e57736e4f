"""Create or find the plan catalogue in Stripe (product, prices, the Messages meter) and store
the price ids on the plans. Safe to run any number of times."""

from django.core.management.base import BaseCommand

from billing.catalogue import sync_catalogue


class Command(BaseCommand):
    help = "Sync the plan catalogue (product, prices, meter) to Stripe, idempotently."

    def handle(self, *args, **options):
        report = sync_catalogue()
        for line in report.created:
            self.stdout.write(f"created {line}")
        for line in report.found:
            self.stdout.write(f"found   {line}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Catalogue in sync: {len(report.created)} created, "
                f"{len(report.found)} already there."
            )
        )

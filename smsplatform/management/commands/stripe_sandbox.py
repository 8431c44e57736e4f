from django.conf import settings
from django.core.management.base import BaseCommand

from smsplatform.sandboxes.stripe import server


class Command(BaseCommand):
    help = "Run the local Stripe sandbox (see docs/stripe-sandbox.md)."

    def add_arguments(self, parser):
        server.add_arguments(
            parser, default_state_dir=settings.BASE_DIR / ".data" / "stripe-sandbox"
        )

    def handle(self, *args, **options):
        server.serve(_Options(options))


class _Options:
    """Django's options dict, read the way argparse's namespace is."""

    def __init__(self, options):
        self.__dict__.update(options)

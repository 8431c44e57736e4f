"""python manage.py twilio_sandbox --port 8001: the local Twilio (docs/sandboxes.md)."""

import logging
from pathlib import Path

from django.core.management.base import BaseCommand

from smsplatform.sandboxes.twilio import dev_credentials
from smsplatform.sandboxes.twilio.server import Knobs, Sandbox, run


class Command(BaseCommand):
    help = "Run the Twilio sandbox (api, messaging and trusthub.twilio.com stand-in)."

    def add_arguments(self, parser):
        main_sid, main_token = dev_credentials()
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--state-dir",
            type=Path,
            default=None,
            help="Keep state in this folder across restarts (default: in memory only)",
        )
        parser.add_argument("--account-sid", default=main_sid, help="The main account's SID")
        parser.add_argument("--auth-token", default=main_token, help="The main account's token")
        parser.add_argument("--isv-profile-sid", default=None, help="SID of the ISV's profile")
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds per request")
        parser.add_argument(
            "--max-concurrency",
            type=int,
            default=0,
            help="Concurrent requests per account before 429 / 20429 (0: no limit)",
        )
        parser.add_argument(
            "--error-rate", type=float, default=0.0, help="Share of requests answered 500"
        )
        parser.add_argument(
            "--ambiguous-error-rate",
            type=float,
            default=0.0,
            help="Share of POSTs carried out and then answered 500",
        )
        parser.add_argument(
            "--review-delay", type=float, default=10.0, help="Seconds an A2P review takes"
        )
        parser.add_argument(
            "--delivery-delay",
            type=float,
            default=0.5,
            help="Seconds between a message's status changes",
        )
        parser.add_argument(
            "--callback-concurrency", type=int, default=8, help="Callbacks sent at once"
        )
        parser.add_argument(
            "--journal",
            type=int,
            nargs="?",
            const=100_000,
            default=0,
            help="Keep the last N API requests for /sandbox/journal (contract tests)",
        )
        parser.add_argument("--seed", type=int, default=None, help="Seed of the error rates")
        parser.add_argument(
            "--no-default-opt-out",
            action="store_true",
            help="Twilio's default STOP handling disabled (the platform handles keywords)",
        )

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s twilio-sandbox %(message)s")
        knobs = Knobs(
            latency=options["latency"],
            max_concurrency=options["max_concurrency"],
            error_rate=options["error_rate"],
            ambiguous_error_rate=options["ambiguous_error_rate"],
            review_delay=options["review_delay"],
            delivery_delay=options["delivery_delay"],
            default_opt_out=0 if options["no_default_opt_out"] else 1,
        )
        sandbox = Sandbox(
            knobs=knobs,
            state_dir=options["state_dir"],
            main_account_sid=options["account_sid"],
            main_auth_token=options["auth_token"],
            isv_profile_sid=options["isv_profile_sid"],
            journal_size=options["journal"],
            callback_concurrency=options["callback_concurrency"],
            seed=options["seed"],
        )
        run(sandbox, host=options["host"], port=options["port"])

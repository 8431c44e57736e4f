"""Whether an account's plan lets it send at all, apart from the allowance: the one place
that reads subscription status and dunning, for sending_block, reserve and the banner."""

from django.utils import timezone
from django.utils.formats import date_format

from billing.models import BillingAccount

# Statuses of a subscription that still exists (Stripe's names).
LIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete")
CHOOSE_A_PLAN = "Choose a plan on the Billing page to start sending messages."


def day(moment) -> str:
    return date_format(timezone.localtime(moment), "F j, Y")


def has_plan(account: BillingAccount | None) -> bool:
    """The account has a plan whose periods count (it may still be barred by dunning)."""
    if account is None or account.plan_id is None:
        return False
    return account.is_comped or account.subscription_status not in ("", "canceled")


def plan_block(account: BillingAccount | None, now=None) -> str | None:
    """Why the plan does not allow sending now (no plan, ended, unpaid past the grace period),
    or None; the allowance is checked separately."""
    if account is None or account.plan_id is None:
        return CHOOSE_A_PLAN
    if account.is_comped:
        return None
    status = account.subscription_status
    if status == "canceled":
        ended = f" on {day(account.ended_at)}" if account.ended_at else ""
        return (
            f"Your subscription ended{ended}. Choose a plan on the Billing page to send again; "
            "your contacts and campaigns are kept."
        )
    if status in ("incomplete", "incomplete_expired"):
        return "Your first payment has not gone through yet. Sending starts once it has."
    if status not in LIVE_STATUSES:
        return CHOOSE_A_PLAN
    if status in ("past_due", "unpaid") or account.payment_failed_at:
        grace_until = account.grace_until
        if grace_until is None or (now or timezone.now()) >= grace_until:
            failed = account.payment_failed_at or grace_until
            when = f" on {day(failed)}" if failed else ""
            return (
                f"Your last payment failed{when} and the grace period is over, so sending is "
                "paused. Update your payment method on the Billing page; sending resumes as "
                "soon as the payment goes through."
            )
    return None

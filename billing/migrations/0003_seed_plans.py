"""The two plans of the product brief (docs/billing.md says why these numbers). Operators change
them in the admin afterwards; this only creates what is missing."""

from django.db import migrations

PLANS = [
    {
        "code": "accelerator",
        "name": "Accelerator",
        "summary": "We set it up with you: registration, your first campaign, a welcome flow.",
        "features": (
            "Done-with-you onboarding: carrier registration (A2P 10DLC), your first campaign "
            "and a welcome flow\n"
            "Two-way inbox with the SMS AI agent included\n"
            "Compliance handled: opt-in records, STOP/HELP, quiet hours"
        ),
        "monthly_price_cents": 15000,
        "setup_fee_cents": 59700,
        "monthly_messages": 5000,
        "overage_cents_per_message": 3,
        "recommended": True,
        "position": 1,
    },
    {
        "code": "standard",
        "name": "Standard",
        "summary": "Everything in Textwise, set up at your own pace.",
        "features": (
            "Self-serve setup, with carrier registration carried out for you\n"
            "Two-way inbox with the SMS AI agent included\n"
            "Compliance handled: opt-in records, STOP/HELP, quiet hours"
        ),
        "monthly_price_cents": 15000,
        "setup_fee_cents": 0,
        "monthly_messages": 5000,
        "overage_cents_per_message": 3,
        "recommended": False,
        "position": 2,
    },
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        Plan.objects.get_or_create(code=plan["code"], defaults=plan)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_plans_accounts_events")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

"""The getting-started checklist on a workspace's home: the steps from sign-up to a first
campaign, each marked done once the organization is past it, each linking to where it is done."""

from dataclasses import dataclass

from django.urls import reverse

from organizations.permissions import has_permission


@dataclass(frozen=True)
class Step:
    title: str
    url: str
    done: bool


def getting_started(request, billing_account) -> list[Step]:
    """The workspace's steps, as far as the signed-in person can follow them: importing is for
    those who may import (the others are sent to the contacts). ``billing_account``: the
    organization's (or None), as the page has read it for its billing banner."""
    from a2p.selectors import registration_of
    from billing.entitlement import plan_block
    from messaging.models import Campaign, Contact

    organization = request.tenant
    registration = registration_of(organization)
    may_import = has_permission(request, "contacts.import")
    return [
        Step(
            "Choose your plan",
            reverse("billing"),
            plan_block(billing_account) is None,
        ),
        Step(
            "Register your business with the carriers (A2P 10DLC)",
            reverse("registration"),
            registration is not None and registration.is_complete,
        ),
        Step(
            "Import your subscribers, with their consent",
            reverse("import_start" if may_import else "contact_list"),
            Contact.objects.exists(),
        ),
        Step(
            "Write and schedule your first campaign",
            reverse("campaign_create"),
            Campaign.objects.exists(),
        ),
    ]

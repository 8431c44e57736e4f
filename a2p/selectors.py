from a2p.models import PhoneNumber


def active_numbers(organization):
    """An organization's active numbers, always scoped to it."""
    return PhoneNumber.objects.filter(organization=organization, is_active=True)


def primary_number(organization) -> PhoneNumber | None:
    return active_numbers(organization).order_by("created_at", "pk").first()


def number_owner(phone_number: str) -> PhoneNumber | None:
    """The active number row (with its organization) that ``phone_number`` belongs to."""
    return (
        PhoneNumber.objects.select_related("organization")
        .filter(phone_number=phone_number, is_active=True)
        .first()
    )


def registration_block(organization) -> str | None:
    """Why the organization may not text its subscribers yet, or None."""
    if primary_number(organization) is None:
        return (
            "Register your business with the carriers and get your number first "
            "(Registration in the menu)."
        )
    return None


def messages_per_second(organization) -> float:
    """The organization's sending rate. Until its A2P registration sets one from the approved
    campaign's carrier limits, the platform default."""
    from django.conf import settings

    return float(settings.DEFAULT_MESSAGES_PER_SECOND)

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

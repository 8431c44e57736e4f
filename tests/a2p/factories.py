"""For tests of other apps that need an organization allowed to text its subscribers: a
completed registration and its number, without going through Twilio.

    from tests.a2p.factories import registered_number
    number = registered_number(acme)                     # registration complete, 12 texts/s
    number = registered_number(acme, messages_per_second=225.0)
"""

from django.utils import timezone

from a2p.models import PhoneNumber, Registration


def registered_number(
    organization,
    phone_number: str = "+13055550100",
    *,
    messaging_service_sid: str = "MG" + "0" * 32,
    messages_per_second: float = 12.0,
) -> PhoneNumber:
    Registration.objects.update_or_create(
        organization=organization,
        defaults={
            "stage": Registration.Stage.COMPLETE,
            "status": Registration.Status.COMPLETE,
            "completed_at": timezone.now(),
            "messaging_service_sid": messaging_service_sid,
            "chosen_phone_number": phone_number,
            "messages_per_second": messages_per_second,
        },
    )
    number, _ = PhoneNumber.objects.update_or_create(
        phone_number=phone_number,
        defaults={
            "organization": organization,
            "messaging_service_sid": messaging_service_sid,
            "is_active": True,
        },
    )
    return number

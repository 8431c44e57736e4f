from celery import shared_task
from django.core.cache import cache

from organizations import services


@shared_task
def replenish_spare_schemas():
    """Top the pool of spare schemas back up. One at a time across all workers: two replenishers
    would only overshoot the pool."""
    if not cache.add("lock:replenish-spare-schemas", 1, timeout=600):
        return 0
    try:
        return services.replenish_spare_schemas()
    finally:
        cache.delete("lock:replenish-spare-schemas")


@shared_task
def text_verification_code(user_id: int):
    """Text a fresh verification code to the person's number, from the platform's own number."""
    from django.conf import settings

    from organizations.models import User
    from organizations.phone_verification import make_code
    from smsplatform.providers.twilio import OutgoingSMS, main_twilio

    user = User.objects.filter(pk=user_id).exclude(phone="").first()
    if user is None:
        return
    code = make_code(user.pk)
    main_twilio().send_message(
        OutgoingSMS(
            key=f"verify:{user.pk}",
            to=user.phone,
            body=f"Your Textwise verification code is {code}. It expires in 10 minutes.",
            from_number=settings.TWILIO_PLATFORM_NUMBER,
        )
    )

"""Verifying a person's own mobile number with a texted six-digit code. The code is made and
texted by a task and only its hash is kept (in the cache, ten minutes); a few wrong tries burn
it."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from organizations.models import User

CODE_SECONDS = 600
MAX_TRIES = 5
MAX_CODES_PER_HOUR = 5


def _key(user_id):
    return f"phone-verification:{user_id}"


def _digest(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()


def request_code(user: User, phone: str) -> None:
    """Store the number (unverified) and text a code to it, after the request commits."""
    from organizations.tasks import text_verification_code

    sent_key = f"phone-verification-sent:{user.pk}"
    cache.add(sent_key, 0, 3600)
    if cache.incr(sent_key) > MAX_CODES_PER_HOUR:
        raise ValidationError("Too many codes requested. Try again in an hour.")
    User.objects.filter(pk=user.pk).update(phone=phone, phone_verified_at=None)
    user.phone, user.phone_verified_at = phone, None
    transaction.on_commit(lambda: text_verification_code.delay(user.pk))


def make_code(user_id: int) -> str:
    """A fresh code for the user (replacing any earlier one); only its hash is kept."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    cache.set(_key(user_id), {"digest": _digest(code), "tries": 0}, CODE_SECONDS)
    return code


def confirm(user: User, code: str) -> bool:
    state = cache.get(_key(user.pk))
    if state is None:
        raise ValidationError("The code has expired. Ask for a new one.")
    if state["tries"] >= MAX_TRIES:
        cache.delete(_key(user.pk))
        raise ValidationError("Too many wrong codes. Ask for a new one.")
    if not hmac.compare_digest(state["digest"], _digest((code or "").strip())):
        state["tries"] += 1
        cache.set(_key(user.pk), state, CODE_SECONDS)
        raise ValidationError("That code is not right.")
    cache.delete(_key(user.pk))
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(phone_verified_at=now)
    user.phone_verified_at = now
    return True

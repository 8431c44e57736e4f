"""Signed, single-use tokens that carry a sign-in from the public site to an organization's own
domain (and a sign-out back). Sessions are per host (browsers keep ``*.localhost`` cookies
host-only), so moving between hosts needs a handoff."""

import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from organizations.models import Organization, User

_HANDOFF_SALT = "organizations.signin.handoff"
_SIGNOUT_SALT = "organizations.signin.signout"


class InvalidHandoff(Exception):
    """The token is forged, expired, already used or meant for another organization."""


def make_handoff_token(user: User, organization: Organization | None) -> str:
    """A token that signs ``user`` in on ``organization``'s domain (None: the public site)."""
    payload = {
        "u": user.pk,
        "o": organization.pk if organization else 0,
        "n": secrets.token_urlsafe(12),
    }
    return signing.dumps(payload, salt=_HANDOFF_SALT, compress=True)


def consume_handoff_token(token: str, organization: Organization | None) -> User:
    try:
        payload = signing.loads(token, salt=_HANDOFF_SALT, max_age=settings.SIGNIN_HANDOFF_MAX_AGE)
    except signing.BadSignature as exc:
        raise InvalidHandoff("This sign-in link is invalid or has expired.") from exc
    if payload.get("o") != (organization.pk if organization else 0):
        raise InvalidHandoff("This sign-in link belongs to another workspace.")
    # cache.add succeeds only for the first caller: a replayed token is refused.
    if not cache.add(f"signin-handoff:{payload['n']}", 1, settings.SIGNIN_HANDOFF_MAX_AGE * 2):
        raise InvalidHandoff("This sign-in link has already been used.")
    user = User.objects.filter(pk=payload["u"], is_active=True).first()
    if user is None:
        raise InvalidHandoff("This account is no longer active.")
    return user


def make_signout_token(user: User) -> str:
    return signing.dumps({"u": user.pk}, salt=_SIGNOUT_SALT)


def signout_token_user_id(token: str) -> int | None:
    try:
        return signing.loads(token, salt=_SIGNOUT_SALT, max_age=settings.SIGNIN_HANDOFF_MAX_AGE)[
            "u"
        ]
    except (signing.BadSignature, KeyError, TypeError):
        return None

"""Is this webhook really from Twilio? X-Twilio-Signature, checked with the SDK's
RequestValidator over the URL Twilio requested and every parameter it sent.

Twilio signs the public URL it called. Behind a TLS-terminating proxy our server sees another
scheme, host or port, so the URL is rebuilt from X-Forwarded-Proto/Host/Port when BEHIND_PROXY
(settings.py) tells Django to trust them; a mismatch would refuse every genuine webhook.
"""

import hmac

from django.conf import settings
from twilio.request_validator import RequestValidator

_DEFAULT_PORTS = {"http": "80", "https": "443"}
FORM = "application/x-www-form-urlencoded"


def public_request_url(request) -> str:
    """The URL as the caller requested it: scheme, host and port, path, query string (kept
    encoded as received)."""
    scheme = request.scheme  # honours SECURE_PROXY_SSL_HEADER (X-Forwarded-Proto)
    host = request.get_host()  # honours USE_X_FORWARDED_HOST; checked against ALLOWED_HOSTS
    forwarded_port = request.META.get("HTTP_X_FORWARDED_PORT", "").strip()
    # Django only applies X-Forwarded-Port when it builds the host from SERVER_NAME; a proxy that
    # sends the port separately from X-Forwarded-Host must still get it in the URL.
    if (
        getattr(settings, "USE_X_FORWARDED_PORT", False)
        and forwarded_port
        and not _has_port(host)
        and forwarded_port != _DEFAULT_PORTS.get(scheme)
    ):
        host = f"{host}:{forwarded_port}"
    return f"{scheme}://{host}{request.get_full_path()}"


def _has_port(host: str) -> bool:
    if host.endswith("]"):  # a bare IPv6 literal, e.g. [::1]
        return False
    return ":" in host


def twilio_signature_is_valid(request, auth_token: str) -> bool:
    """True when the request carries a valid X-Twilio-Signature for ``auth_token``. The SDK
    tries the URL with and without the default port (Twilio is inconsistent about it) and
    checks the body hash of JSON webhooks (bodySHA256)."""
    # META rather than request.headers, which builds a dict of every header first; and the
    # query string parsed only when there is one (status callbacks, thousands a second, have
    # none).
    signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not signature or not auth_token:
        return False
    url = public_request_url(request)
    validator = RequestValidator(auth_token)
    has_body_hash = bool(request.META.get("QUERY_STRING")) and "bodySHA256" in request.GET
    if has_body_hash and request.content_type != FORM:
        params = request.body.decode("utf-8", errors="replace")  # a JSON webhook: body hashed
    elif request.content_type in (FORM, "") or request.method == "GET":
        params = request.POST  # a QueryDict: repeated keys are signed value by value
        # Status callbacks come in thousands a second: the URL exactly as requested matches
        # almost always, so it is tried first; validate() computes both port variants, always.
        expected = validator.compute_signature(url, params)
        if hmac.compare_digest(expected, signature):
            return True
    else:
        return False  # Twilio signs form posts and hashed bodies, nothing else
    return validator.validate(url, params, signature)

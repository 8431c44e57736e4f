from django.conf import settings


def client_ip(request) -> str | None:
    """The caller's IP address. Behind our proxy (BEHIND_PROXY), the last hop it appended."""
    if getattr(settings, "USE_X_FORWARDED_HOST", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR")

"""Files subscribers' phones fetch: campaign images (MMS) and the organization's contact card.
Twilio downloads them, so they are served on the public site at unguessable addresses."""

import os
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse

IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Twilio's limit for images


def campaign_media_name(instance, filename) -> str:
    extension = os.path.splitext(filename)[1].lower()
    return f"campaign-media/{uuid.uuid4().hex}{extension}"


def public_media_url(name: str) -> str:
    """Stored per organization (MEDIA_ROOT/<schema>/...), served at SITE_URL/media/<schema>/."""
    return settings.SITE_URL + default_storage.url(name)


def contact_card_url(organization=None) -> str:
    organization = organization or connection.tenant
    path = reverse(
        "contact_card", urlconf=settings.PUBLIC_SCHEMA_URLCONF, kwargs={"slug": organization.slug}
    )
    return settings.SITE_URL + path


def vcard(*, name: str, phone: str = "", website: str = "", logo_url: str = "") -> str:
    """The organization's contact card, vCard 4.0 (RFC 6350)."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"FN:{_escape(name)}",
        f"ORG:{_escape(name)}",
        "KIND:org",
    ]
    if phone:
        lines.append(f'TEL;VALUE=uri;TYPE="text,voice":tel:{phone}')
    if website:
        lines.append(f"URL:{website}")
    if logo_url:
        lines.append(f"LOGO:{logo_url}")
    lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _escape(text: str) -> str:
    """RFC 6350 §3.4: backslash, comma, semicolon and newlines are escaped in text values."""
    return (
        text.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str, limit: int = 75) -> str:
    """RFC 6350 §3.2: lines longer than 75 octets continue on the next line after a space."""
    encoded = line.encode()
    if len(encoded) <= limit:
        return line
    parts, current = [], b""
    for char in line:
        piece = char.encode()
        if len(current) + len(piece) > (limit if not parts else limit - 1):
            parts.append(current.decode())
            current = b""
        current += piece
    parts.append(current.decode())
    return "\r\n ".join(parts)

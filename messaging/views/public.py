"""The organization's public sign-up page: a web form (double opt-in), a QR code and a
tap-to-text link for its join keyword. Open to anyone, so it is rate-limited per address."""

import io
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.html import escape

from a2p.selectors import primary_number
from messaging import inbound, services
from messaging.forms import SignUpPageForm
from organizations.permissions import public_in_tenant
from smsplatform.http import client_ip

SIGNUPS_PER_ADDRESS_PER_HOUR = 10


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@public_in_tenant
def signup_page(request):
    organization = request.tenant
    settings_row = services.compliance_settings()
    number = primary_number(organization)
    keyword = (settings_row.join_keywords or ["JOIN"])[0]
    disclosure = settings_row.signup_disclosure.format(business=organization.name)
    sms_link = f"sms:{number.phone_number}?&body={quote(keyword)}" if number else ""
    form = SignUpPageForm(request.POST or None)
    done = False
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        key = f"signup-page:{ip}"
        cache.add(key, 0, 3600)
        if cache.incr(key) > SIGNUPS_PER_ADDRESS_PER_HOUR:
            form.add_error(None, "Too many sign-ups from this connection. Please try later.")
        else:
            try:
                inbound.request_web_signup(
                    phone=form.cleaned_data["phone"],
                    first_name=form.cleaned_data["first_name"],
                    disclosure=disclosure,
                    page_url=request.build_absolute_uri(),
                    ip_address=ip,
                )
            except ValidationError as exc:
                form.add_error("phone", exc.messages[0])
            else:
                done = True
    return render(
        request,
        "messaging/signup_page.html",
        {
            "organization": organization,
            "form": form,
            "done": done,
            "disclosure": disclosure,
            "keyword": keyword,
            "number": number,
            "sms_link": sms_link,
            "qr_svg": _qr_svg(sms_link or request.build_absolute_uri()),
            "escaped_name": escape(organization.name),
        },
        status=400 if form.errors else 200,
    )


def contact_card(request, slug):
    """The organization's vCard, for subscribers to save (and for MMS attachments)."""
    from django.http import Http404, HttpResponse

    from messaging.media import vcard
    from organizations.models import Organization

    organization = Organization.objects.customers().filter(slug=slug).first()
    if organization is None:
        raise Http404("No such card")
    number = primary_number(organization)
    card = vcard(
        name=organization.name,
        phone=number.phone_number if number else "",
        website=organization.website,
        logo_url=(settings.SITE_URL + organization.logo.url) if organization.logo else "",
    )
    response = HttpResponse(card, content_type="text/vcard; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{slug}.vcf"'
    return response


def organization_media(request, schema, path):
    """A stored file of an organization (campaign image, logo), at its unguessable name."""
    from django.http import FileResponse, Http404

    from messaging.media import IMAGE_TYPES

    root = (settings.BASE_DIR / settings.MEDIA_ROOT / schema).resolve()
    target = (root / path).resolve()
    extension = target.suffix.lower()
    if root not in target.parents or not target.is_file() or extension not in IMAGE_TYPES:
        raise Http404("No such file")
    response = FileResponse(target.open("rb"), content_type=IMAGE_TYPES[extension])
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response

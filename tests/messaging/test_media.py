"""The contact card (vCard) and organization files that phones and Twilio fetch."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django_tenants.utils import tenant_context

from a2p.models import PhoneNumber
from messaging.media import vcard

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_vcard_follows_rfc_6350():
    card = vcard(
        name="Rosa's Flowers, Inc; Miami", phone="+13055550100", website="https://rosa.example"
    )
    lines = card.split("\r\n")
    assert lines[:3] == ["BEGIN:VCARD", "VERSION:4.0", "FN:Rosa's Flowers\\, Inc\\; Miami"]
    assert 'TEL;VALUE=uri;TYPE="text,voice":tel:+13055550100' in lines
    assert "URL:https://rosa.example" in lines
    assert card.endswith("END:VCARD\r\n")


def test_long_vcard_lines_are_folded_at_75_octets():
    card = vcard(name="Ñ" * 60)  # 2 octets each
    for line in card.split("\r\n"):
        assert len(line.encode()) <= 75
    unfolded = card.replace("\r\n ", "")
    assert "FN:" + "Ñ" * 60 in unfolded


def test_the_contact_card_is_public_and_names_the_business(acme, db):
    PhoneNumber.objects.create(organization=acme, phone_number="+13055550100")
    acme.website = "https://acme.example"
    acme.save()
    response = Client(HTTP_HOST="localhost").get("/c/acme.vcf")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    body = response.content.decode()
    assert "FN:Acme Boutique" in body and "tel:+13055550100" in body
    assert Client(HTTP_HOST="localhost").get("/c/nobody.vcf").status_code == 404


def test_organization_images_are_served_by_unguessable_name_and_nothing_else(acme, db):
    with tenant_context(acme):
        name = default_storage.save("campaign-media/abc123.png", ContentFile(PNG))
        url = default_storage.url(name)
    try:
        client = Client(HTTP_HOST="localhost")
        response = client.get(url)
        assert url.startswith("/media/acme/campaign-media/")
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == PNG
        for probe in [
            "/media/acme/../globex/campaign-media/abc123.png",
            "/media/acme/%2e%2e/%2e%2e/settings.py",
            "/media/globex/campaign-media/abc123.png",
            "/media/acme/campaign-media/missing.png",
        ]:
            assert client.get(probe).status_code == 404, probe
    finally:
        with tenant_context(acme):
            default_storage.delete(name)

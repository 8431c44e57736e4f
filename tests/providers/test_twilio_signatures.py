"""Webhook signatures: a request is trusted only with Twilio's signature over the public URL it
was sent to and every parameter, also behind a TLS-terminating proxy."""

from urllib.parse import urlencode

import pytest
from django.test import RequestFactory, override_settings
from twilio.request_validator import RequestValidator

from smsplatform.providers.twilio import public_request_url, twilio_signature_is_valid

TOKEN = "12345678901234567890123456789012"
PARAMS = {
    "MessageSid": "SM" + "a" * 32,
    "MessageStatus": "delivered",
    "To": "+14155550100",
    "From": "+14155550199",
}
BEHIND_PROXY = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "USE_X_FORWARDED_HOST": True,
    "USE_X_FORWARDED_PORT": True,
    "ALLOWED_HOSTS": ["hooks.example.com", "localhost"],
}


def signed(url, params, token=TOKEN):
    return RequestValidator(token).compute_signature(url, params)


def post(path, params, *, signature=None, host="localhost", **headers):
    """A form POST, as Twilio sends its webhooks."""
    if signature is not None:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    body = urlencode(params, doseq=True)
    return RequestFactory().post(
        path, body, content_type="application/x-www-form-urlencoded", HTTP_HOST=host, **headers
    )


def test_a_genuine_callback_is_valid():
    url = "http://localhost/webhooks/twilio/status/7/"
    request = post("/webhooks/twilio/status/7/", PARAMS, signature=signed(url, PARAMS))
    assert twilio_signature_is_valid(request, TOKEN)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "MessageStatus": "failed"},  # a changed value
        lambda p: {**p, "ErrorCode": "30007"},  # an added field
        lambda p: {k: v for k, v in p.items() if k != "To"},  # a removed field
    ],
)
def test_a_tampered_callback_is_invalid(tamper):
    url = "http://localhost/webhooks/twilio/status/7/"
    request = post("/webhooks/twilio/status/7/", tamper(PARAMS), signature=signed(url, PARAMS))
    assert not twilio_signature_is_valid(request, TOKEN)


def test_the_signature_binds_the_url_so_it_cannot_be_replayed_to_another_organization():
    signature = signed("http://localhost/webhooks/twilio/status/7/", PARAMS)
    request = post("/webhooks/twilio/status/8/", PARAMS, signature=signature)
    assert not twilio_signature_is_valid(request, TOKEN)


def test_no_signature_or_another_accounts_token_is_invalid():
    url = "http://localhost/webhooks/twilio/status/7/"
    assert not twilio_signature_is_valid(post("/webhooks/twilio/status/7/", PARAMS), TOKEN)
    request = post("/webhooks/twilio/status/7/", PARAMS, signature=signed(url, PARAMS, "x" * 32))
    assert not twilio_signature_is_valid(request, TOKEN)
    assert not twilio_signature_is_valid(request, "")


def test_repeated_keys_are_all_signed():
    url = "http://localhost/hook"
    data = {"Body": "hi", "MediaUrl": ["https://a.example/1.jpg", "https://a.example/2.jpg"]}
    signature = RequestValidator(TOKEN).compute_signature(url, {"Body": "hi"})
    # Signed without the media: the request with them must not pass.
    assert not twilio_signature_is_valid(post("/hook", data, signature=signature), TOKEN)
    request = post("/hook", data)
    full = RequestValidator(TOKEN).compute_signature(url, request.POST)
    assert twilio_signature_is_valid(post("/hook", data, signature=full), TOKEN)


def test_the_query_string_is_part_of_the_signed_url_as_sent():
    url = "http://localhost/hook?org=7&note=a%20b"
    request = post("/hook?org=7&note=a%20b", PARAMS, signature=signed(url, PARAMS))
    assert public_request_url(request) == url
    assert twilio_signature_is_valid(request, TOKEN)


@override_settings(**BEHIND_PROXY)
def test_behind_the_proxy_the_public_url_comes_from_x_forwarded_headers():
    request = post(
        "/webhooks/twilio/status/7/",
        PARAMS,
        host="localhost",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="hooks.example.com",
        HTTP_X_FORWARDED_PORT="8443",
    )
    public = "https://hooks.example.com:8443/webhooks/twilio/status/7/"
    assert public_request_url(request) == public
    request.META["HTTP_X_TWILIO_SIGNATURE"] = signed(public, PARAMS)
    assert twilio_signature_is_valid(request, TOKEN)


@override_settings(**BEHIND_PROXY)
def test_behind_the_proxy_the_default_port_is_left_out_and_either_form_validates():
    request = post(
        "/hook",
        PARAMS,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="hooks.example.com",
        HTTP_X_FORWARDED_PORT="443",
    )
    assert public_request_url(request) == "https://hooks.example.com/hook"
    # Twilio is inconsistent about the port; the SDK accepts a signature over either form.
    request.META["HTTP_X_TWILIO_SIGNATURE"] = signed("https://hooks.example.com:443/hook", PARAMS)
    assert twilio_signature_is_valid(request, TOKEN)


@override_settings(**BEHIND_PROXY)
def test_behind_the_proxy_a_host_with_its_own_port_keeps_it():
    request = post(
        "/hook",
        PARAMS,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="hooks.example.com:9443",
        HTTP_X_FORWARDED_PORT="9443",
    )
    assert public_request_url(request) == "https://hooks.example.com:9443/hook"


def test_without_the_proxy_setting_forwarded_headers_are_ignored():
    # Anyone can send X-Forwarded-*; only a configured proxy's are trusted.
    request = post(
        "/hook",
        PARAMS,
        host="localhost:8000",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="evil.example.com",
        HTTP_X_FORWARDED_PORT="443",
    )
    assert public_request_url(request) == "http://localhost:8000/hook"


def test_a_body_twilio_does_not_send_is_never_valid():
    url = "http://localhost/hook"
    request = RequestFactory().post(
        "/hook", PARAMS, HTTP_HOST="localhost", HTTP_X_TWILIO_SIGNATURE=signed(url, {})
    )  # multipart: Twilio signs form posts only
    assert not twilio_signature_is_valid(request, TOKEN)

"""Twilio error codes → what the caller may do next, and a reason a shop owner can read."""

import socket
import threading

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from smsplatform.providers.errors import (
    TWILIO_CODES,
    AccountBlockedError,
    AmbiguousOutcome,
    PermanentRecipientError,
    ProviderAuthError,
    ProviderRequestError,
    RetryableError,
    twilio_error,
    twilio_transport_error,
)
from smsplatform.providers.twilio import requests_transport_error, rest_error


@pytest.mark.parametrize(
    ("code", "http_status", "expected"),
    [
        (21211, 400, PermanentRecipientError),  # invalid number
        (21610, 400, PermanentRecipientError),  # replied STOP
        (21614, 400, PermanentRecipientError),  # landline
        (21408, 400, PermanentRecipientError),  # region not enabled
        (21612, 400, PermanentRecipientError),
        (30003, None, PermanentRecipientError),  # from a status callback: no HTTP status
        (30005, None, PermanentRecipientError),
        (30006, None, PermanentRecipientError),
        (30007, None, PermanentRecipientError),  # filtered: this message, not the account
        (30034, None, AccountBlockedError),  # unregistered 10DLC: pause the organization
        (30024, None, AccountBlockedError),
        (21606, 400, AccountBlockedError),
        (20429, 429, RetryableError),
        (30008, None, RetryableError),
        (20003, 401, ProviderAuthError),
        (20404, 404, ProviderRequestError),
        (30795, None, ProviderRequestError),  # A2P: invalid EIN
    ],
)
def test_known_codes_map_to_what_the_caller_may_do(code, http_status, expected):
    error = twilio_error(code, http_status=http_status, message="from Twilio")
    assert type(error) is expected
    assert error.code == code
    assert error.http_status == http_status
    assert error.provider == "twilio"
    assert error.plain_reason == TWILIO_CODES[code][1]


def test_a_known_code_keeps_its_class_whatever_the_http_status():
    # 429 without Twilio's code is retryable; with 20429 it is the same, from the table.
    assert isinstance(twilio_error(20429, http_status=429), RetryableError)
    assert isinstance(
        twilio_error(21610, http_status=400, idempotent=True), PermanentRecipientError
    )


@pytest.mark.parametrize(
    ("http_status", "idempotent", "expected"),
    [
        (429, False, RetryableError),
        (500, False, AmbiguousOutcome),  # a create may have happened: reconcile first
        (503, False, AmbiguousOutcome),
        (500, True, RetryableError),  # a read can simply be repeated
        (401, False, ProviderAuthError),
        (400, False, ProviderRequestError),
        (422, False, ProviderRequestError),
        (None, False, PermanentRecipientError),  # an unknown delivery error in a callback
    ],
)
def test_unknown_codes_fall_back_on_the_http_status(http_status, idempotent, expected):
    error = twilio_error(99999, http_status=http_status, idempotent=idempotent)
    assert type(error) is expected
    assert error.code == 99999
    assert error.plain_reason  # a generic sentence, never empty


def test_every_code_has_a_plain_sentence_without_jargon():
    for code, (_, reason) in TWILIO_CODES.items():
        assert reason.endswith(".") and reason[0].isupper(), code
        assert "Twilio error" not in reason and str(code) not in reason, code


def test_an_sdk_exception_is_classified_by_its_code_and_status():
    exc = TwilioRestException(400, "https://api", "Unable to create record: opted out", 21610)
    error = rest_error(exc, idempotent=False)
    assert isinstance(error, PermanentRecipientError)
    assert error.code == 21610
    assert "opted out" in error.message


def test_a_body_without_code_does_not_pass_the_http_status_off_as_a_twilio_code():
    # The SDK fills ``code`` with the HTTP status when a proxy answers with an HTML page.
    exc = TwilioRestException(502, "https://api", "Bad Gateway", 502)
    error = rest_error(exc, idempotent=False)
    assert isinstance(error, AmbiguousOutcome)
    assert error.code is None
    assert error.http_status == 502


def test_transport_errors_depend_on_whether_the_request_may_have_left():
    assert isinstance(
        twilio_transport_error("refused", request_sent=False, idempotent=False), RetryableError
    )
    assert isinstance(
        twilio_transport_error("timeout", request_sent=True, idempotent=False), AmbiguousOutcome
    )
    assert isinstance(
        twilio_transport_error("timeout", request_sent=True, idempotent=True), RetryableError
    )


def test_a_refused_connection_never_reached_twilio():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(requests.ConnectionError) as caught:
            requests.post(f"http://127.0.0.1:{port}/", timeout=2)
    assert isinstance(requests_transport_error(caught.value, idempotent=False), RetryableError)


def test_a_read_timeout_after_sending_is_ambiguous():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        accepted = []
        threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
        with pytest.raises(requests.ReadTimeout) as caught:
            requests.post(f"http://127.0.0.1:{port}/", data={"To": "+1"}, timeout=(2, 0.2))
    error = requests_transport_error(caught.value, idempotent=False)
    assert isinstance(error, AmbiguousOutcome)
    assert isinstance(requests_transport_error(caught.value, idempotent=True), RetryableError)


def test_other_exceptions_are_not_mistaken_for_transport_errors():
    assert requests_transport_error(ValueError("bug"), idempotent=False) is None

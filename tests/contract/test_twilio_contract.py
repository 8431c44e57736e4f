"""The contract check itself: what the gateway sends and the sandbox answers is validated
against Twilio's official specs (tests/contract/twilio_spec.py), after every test that used the
sandbox. These tests show that the check passes real traffic and catches each kind of breach,
by replaying a real journal entry with one thing changed."""

import copy
import json
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from smsplatform.providers.twilio import OutgoingSMS, main_twilio
from tests.contract.twilio_spec import check_entry, from_gateway, specs


@pytest.fixture
def journal(twilio_sandbox):
    """The sandbox's journal entries of this test so far (without consuming them)."""
    start = twilio_sandbox.contract.last_seq

    def entries():
        return twilio_sandbox.get("/sandbox/journal", after=start)["entries"]

    return entries


@pytest.fixture
def sent(twilio_sandbox, journal):
    """The journal entry of one real message sent by the gateway."""
    main_twilio().send_message(
        OutgoingSMS(key=1, to="+14155550111", body="Contract", from_number="+15005550006")
    )
    (entry,) = [e for e in journal() if e["path"].endswith("/Messages.json")]
    return entry


def with_form(entry, change):
    changed = copy.deepcopy(entry)
    fields = parse_qsl(changed["body"])
    changed["body"] = urlencode(change(fields))
    return changed


def with_answer(entry, change):
    changed = copy.deepcopy(entry)
    body = json.loads(changed["response_body"])
    change(body)
    changed["response_body"] = json.dumps(body)
    return changed


def test_the_specs_are_loaded_once_per_session():
    assert specs() is specs()
    assert set(specs()) == {"api", "messaging", "trusthub", "events"}


def test_a_real_send_and_its_answer_conform(sent):
    assert from_gateway(sent)
    assert sent["status"] == 201
    assert check_entry(sent) == []


def test_a_missing_required_parameter_is_caught(sent):
    breach = with_form(sent, lambda fields: [(k, v) for k, v in fields if k != "To"])
    problems = check_entry(breach)
    assert any("'To' is a required property" in p for p in problems), problems


def test_a_parameter_of_the_wrong_type_is_caught(sent):
    breach = with_form(sent, lambda fields: [*fields, ("ValidityPeriod", "ten minutes")])
    assert any("ValidityPeriod" in p or "integer" in p for p in check_entry(breach))


def test_a_value_outside_the_enum_is_caught(sent):
    breach = with_form(sent, lambda fields: [*fields, ("RiskCheck", "sometimes")])
    assert check_entry(breach)


def test_a_parameter_the_spec_does_not_know_is_caught(sent):
    breach = with_form(sent, lambda fields: [*fields, ("ValidityPeroid", "600")])
    assert any("ValidityPeroid" in p for p in check_entry(breach))


def test_a_path_the_spec_does_not_have_is_caught(sent):
    breach = {**sent, "path": sent["path"].replace("/Messages.json", "/Texts.json")}
    assert any("PathNotFound" in p for p in check_entry(breach))


def test_an_answer_with_a_wrong_status_or_sid_is_caught(sent):
    status = with_answer(sent, lambda body: body.update(status="on-its-way"))
    assert any("on-its-way" in p for p in check_entry(status))
    sid = with_answer(sent, lambda body: body.update(sid="XX" + "0" * 32))
    assert any("does not match" in p for p in check_entry(sid))


def test_an_answer_with_a_field_the_spec_does_not_know_is_caught(sent):
    breach = with_answer(sent, lambda body: body.update(segments_estimate=1))
    assert any("segments_estimate" in p for p in check_entry(breach))


def test_an_answer_missing_a_wrong_type_is_caught(sent):
    breach = with_answer(sent, lambda body: body.update(error_code="none"))
    assert any("error_code" in p or "integer" in p for p in check_entry(breach))


def test_an_error_answer_must_have_twilios_error_shape(sent):
    error = {**sent, "status": 400, "response_body": json.dumps({"error": "bad"})}
    assert any("error answer 400" in p for p in check_entry(error))
    twilio_shaped = {
        "code": 21211,
        "message": "The 'To' number is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    assert check_entry({**sent, "status": 400, "response_body": json.dumps(twilio_shaped)}) == []


def test_requests_from_elsewhere_are_not_held_to_the_contract(twilio_sandbox, journal):
    # A hand-made request with a wrong body: the sandbox refuses it, and it is not the gateway's.
    url = f"{twilio_sandbox.url}/api/2010-04-01/Accounts/{twilio_sandbox.address.account_sid}"
    answer = requests.post(
        f"{url}/Messages.json",
        data={"Body": "no recipient"},
        auth=(twilio_sandbox.address.account_sid, twilio_sandbox.address.auth_token),
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == 21604
    (entry,) = journal()
    assert not from_gateway(entry)


def test_every_gateway_request_is_checked_after_the_test(twilio_sandbox):
    before = dict(twilio_sandbox.contract.checked)
    gateway = main_twilio()
    gateway.search_available_numbers(area_code=305, limit=2)
    service = gateway.create_messaging_service("contract")
    gateway.fetch_messaging_service(service.sid)
    assert twilio_sandbox.contract.check() == []
    checked = twilio_sandbox.contract.checked
    for operation in (
        "GET /2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/US/Local.json",
        "POST /v1/Services",
        "GET /v1/Services/{sid}",
    ):
        assert checked[operation] == before.get(operation, 0) + 1, operation

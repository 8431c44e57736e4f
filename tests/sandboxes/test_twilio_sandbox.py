"""The Twilio sandbox behaves like Twilio where the platform can tell: message lifecycles and
their signed status callbacks, designated failures, inbound texts and opt-outs, TrustHub
callbacks, authentication, the concurrency limit, its control endpoints and its saved state."""

import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
from django.conf import settings
from twilio.request_validator import RequestValidator

from smsplatform.providers.errors import PermanentRecipientError
from smsplatform.providers.twilio import OutgoingSMS, TwilioGateway, main_twilio
from tests.twilio_sandbox import new_sandbox_address, start_sandbox, wait_until


class Receiver:
    """A stand-in for the platform's webhooks: records each request, answers ``status``."""

    def __init__(self, *, answer_after: float = 0.0):
        self.requests: list[dict] = []
        self.status = 200
        self.in_flight = 0
        self.most_in_flight = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                with lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                time.sleep(answer_after)
                with lock:
                    receiver.in_flight -= 1
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "params": dict(parse_qsl(body, keep_blank_values=True)),
                    }
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                """Silent: a request log would bury the test report."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait_for(self, count, timeout=10):
        return wait_until(
            lambda: len(self.requests) >= count and self.requests,
            timeout=timeout,
            message=f"{count} callbacks",
        )

    def signed_correctly(self, request, token) -> bool:
        url = self.url + request["path"]
        signature = request["headers"]["X-Twilio-Signature"]
        return RequestValidator(token).validate(url, request["params"], signature)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def subaccount(twilio_sandbox):
    created = main_twilio().create_subaccount("sandbox tests")
    return TwilioGateway(created.sid, created.auth_token)


def send(gateway, to, callback, **extra):
    extra.setdefault("from_number", "+15005550006")
    return gateway.send_message(
        OutgoingSMS(key=to, to=to, body="Hello", status_callback=callback, **extra)
    )


def test_a_message_reports_sent_then_delivered_signed_with_its_accounts_token(subaccount, receiver):
    message = send(subaccount, "+14155550120", receiver.url + "/status?org=7")
    first, second = receiver.wait_for(2)
    assert [first["params"]["MessageStatus"], second["params"]["MessageStatus"]] == [
        "sent",
        "delivered",
    ]
    params = second["params"]
    assert params["MessageSid"] == params["SmsSid"] == message.sid
    assert params["SmsStatus"] == "delivered"
    assert params["AccountSid"] == subaccount.account_sid
    assert (params["From"], params["To"], params["ApiVersion"]) == (
        "+15005550006",
        "+14155550120",
        "2010-04-01",
    )
    assert len(params["RawDlrDoneDate"]) == 10
    assert "ErrorCode" not in params
    assert all(receiver.signed_correctly(r, subaccount.auth_token) for r in (first, second))
    assert not receiver.signed_correctly(first, settings.TWILIO_AUTH_TOKEN)  # not the parent's


@pytest.mark.parametrize(
    ("to", "statuses", "code"),
    [
        ("+14155553003", ["sent", "undelivered"], "30003"),
        ("+14155553005", ["sent", "undelivered"], "30005"),
        ("+14155553007", ["sent", "undelivered"], "30007"),
        ("+14155553034", ["sent", "undelivered"], "30034"),
        ("+14155553001", ["failed"], "30001"),
    ],
)
def test_designated_recipients_fail_after_acceptance(subaccount, receiver, to, statuses, code):
    message = send(subaccount, to, receiver.url + "/status")
    assert message.status == "queued"  # accepted: the failure comes later, as with Twilio
    received = receiver.wait_for(len(statuses))
    assert [r["params"]["MessageStatus"] for r in received] == statuses
    assert received[-1]["params"]["ErrorCode"] == code
    assert subaccount.fetch_message(message.sid).error_code == int(code)


def test_callbacks_go_out_a_bounded_number_at_a_time(subaccount):
    # A slow platform and a burst of messages: the sandbox queues callbacks instead of opening
    # a connection per callback (it runs with --callback-concurrency 8 by default).
    slow = Receiver(answer_after=0.1)
    try:
        results = subaccount.send_messages(
            [
                OutgoingSMS(key=i, to=f"+1415777{i:04d}", body="Sale", from_number="+15005550006",
                            status_callback=slow.url + "/status")
                for i in range(40)
            ],
            concurrency=20,
        )  # fmt: skip
        assert all(r.ok for r in results)
        slow.wait_for(80, timeout=20)  # sent + delivered for each
        assert 1 < slow.most_in_flight <= 8
    finally:
        slow.server.shutdown()


def test_a_service_message_reports_its_service_and_uses_the_services_callback(subaccount, receiver):
    number = subaccount.buy_phone_number(area_code="512")
    service = subaccount.create_messaging_service("svc", status_callback=receiver.url + "/svc")
    subaccount.add_number_to_messaging_service(service.sid, number.sid)
    subaccount.send_message(
        OutgoingSMS(key=1, to="+15125550100", body="Hi", messaging_service_sid=service.sid)
    )
    received = receiver.wait_for(2)
    assert {r["path"] for r in received} == {"/svc"}
    assert received[0]["params"]["MessagingServiceSid"] == service.sid
    assert received[0]["params"]["From"] == number.phone_number


def test_an_inbound_text_is_posted_signed_to_the_numbers_webhook(
    subaccount, receiver, twilio_sandbox
):
    number = subaccount.buy_phone_number(area_code="305", sms_url=receiver.url + "/inbound")
    result = twilio_sandbox.inbound(
        From="+13055550177", To=number.phone_number, Body="Do you have size M?"
    )
    assert result["webhook_status"] == 200
    (request,) = receiver.wait_for(1)
    params = request["params"]
    assert request["path"] == "/inbound"
    assert params["Body"] == "Do you have size M?"
    assert (params["From"], params["To"]) == ("+13055550177", number.phone_number)
    assert params["SmsStatus"] == "received" and params["NumMedia"] == "0"
    assert params["MessageSid"] == result["message_sid"] == params["SmsMessageSid"]
    assert receiver.signed_correctly(request, subaccount.auth_token)


def test_a_service_without_number_webhooks_receives_its_numbers_texts(
    subaccount, receiver, twilio_sandbox
):
    number = subaccount.buy_phone_number(area_code="617", sms_url=receiver.url + "/number")
    service = subaccount.create_messaging_service(
        "svc", inbound_request_url=receiver.url + "/service", use_inbound_webhook_on_number=False
    )
    subaccount.add_number_to_messaging_service(service.sid, number.sid)
    twilio_sandbox.inbound(From="+16175550100", To=number.phone_number, Body="hi")
    (request,) = receiver.wait_for(1)
    assert request["path"] == "/service"
    assert request["params"]["MessagingServiceSid"] == service.sid


def test_stop_blocks_further_texts_until_start(subaccount, receiver, twilio_sandbox):
    # Twilio's default opt-out handling (the platform's own accounts run with it disabled).
    with twilio_sandbox.knobs_set(default_opt_out=1):
        number = subaccount.buy_phone_number(area_code="702", sms_url=receiver.url + "/inbound")
        fan = "+17025550142"
        twilio_sandbox.inbound(From=fan, To=number.phone_number, Body=" stop ")
        assert receiver.wait_for(1)[0]["params"]["OptOutType"] == "STOP"
        with pytest.raises(PermanentRecipientError) as caught:
            send(subaccount, fan, None, from_number=number.phone_number)
        assert caught.value.code == 21610
        twilio_sandbox.inbound(From=fan, To=number.phone_number, Body="START")
        assert send(subaccount, fan, None, from_number=number.phone_number).status == "queued"


def test_with_default_opt_out_disabled_stop_reaches_the_app_and_blocks_nothing(
    subaccount, receiver, twilio_sandbox
):
    number = subaccount.buy_phone_number(area_code="702", sms_url=receiver.url + "/inbound")
    fan = "+17025550143"
    twilio_sandbox.inbound(From=fan, To=number.phone_number, Body="STOP")
    assert "OptOutType" not in receiver.wait_for(1)[0]["params"]
    assert send(subaccount, fan, None, from_number=number.phone_number).status == "queued"


def test_an_inbound_text_to_an_unknown_number_is_refused(twilio_sandbox):
    answer = requests.post(
        f"{twilio_sandbox.url}/sandbox/inbound",
        json={"From": "+1", "To": "+19995550000", "Body": "hi"},
        timeout=5,
    )
    assert answer.status_code == 404


def test_the_page_texts_a_number_from_a_phone(subaccount, receiver, twilio_sandbox):
    number = subaccount.buy_phone_number(area_code="404", sms_url=receiver.url + "/inbound")
    page = requests.get(f"{twilio_sandbox.url}/sandbox/", timeout=5)
    assert "Text this number from this phone" in page.text
    assert number.phone_number in page.text
    answer = requests.post(
        f"{twilio_sandbox.url}/sandbox/inbound",
        data={"From": "+14045550100", "To": number.phone_number, "Body": "From the page"},
        headers={"Accept": "text/html"},
        timeout=5,
    )
    assert answer.ok and "the platform answered HTTP 200" in answer.text
    assert receiver.wait_for(1)[0]["params"]["Body"] == "From the page"


def test_trusthub_reviews_call_the_bundles_status_callback(subaccount, receiver):
    profile = subaccount.create_customer_profile("Incomplete", status_callback=receiver.url + "/th")
    subaccount.submit_customer_profile(profile.sid)
    first, second = receiver.wait_for(2)
    assert [first["params"]["Status"], second["params"]["Status"]] == [
        "in-review",
        "twilio-rejected",
    ]
    assert second["params"]["BundleSid"] == profile.sid
    assert "22214" in second["params"]["FailureReason"]
    assert receiver.signed_correctly(second, subaccount.auth_token)


def test_wrong_credentials_get_twilios_401(twilio_sandbox):
    answer = requests.get(
        f"{twilio_sandbox.url}/api/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json",
        auth=(settings.TWILIO_ACCOUNT_SID, "nope"),
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == 20003


def test_beyond_the_concurrency_limit_requests_get_429_with_code_20429(twilio_sandbox):
    url = (
        f"{twilio_sandbox.url}/api/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
    )
    auth = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    answers = []

    def one():
        answers.append(requests.get(url, auth=auth, timeout=10))

    with twilio_sandbox.knobs_set(max_concurrency=2, latency=0.5):
        threads = [threading.Thread(target=one) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 429, 429, 429, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }


def test_settings_change_at_runtime_and_unknown_ones_are_refused(twilio_sandbox):
    with twilio_sandbox.knobs_set(latency=0.25, error_rate=0.1):
        assert twilio_sandbox.knobs()["latency"] == 0.25
        assert twilio_sandbox.knobs()["error_rate"] == 0.1
    assert twilio_sandbox.knobs()["latency"] == 0
    answer = requests.post(f"{twilio_sandbox.url}/sandbox/control", json={"speed": 3}, timeout=5)
    assert answer.status_code == 400


def test_stats_count_recipients_texted_more_than_once(subaccount, twilio_sandbox):
    before = twilio_sandbox.stats()["recipients_texted_more_than_once"]
    for _ in range(2):
        send(subaccount, "+14155550199", None)
    stats = twilio_sandbox.stats()
    assert stats["recipients_texted_more_than_once"] == before + 1
    assert stats["repeated_recipients_sample"]["+14155550199"] == 2
    assert len(twilio_sandbox.messages(to="+14155550199")) == 2


def test_state_survives_a_restart(tmp_path, settings):
    address = new_sandbox_address(tmp_path)
    for name, value in address.settings.items():
        setattr(settings, name, value)
    process = start_sandbox(address, name="twilio-sandbox-restart")
    try:
        created = main_twilio().create_subaccount("kept")
        gateway = TwilioGateway(created.sid, created.auth_token)
        message = send(gateway, "+14155550150", None)
        wait_until(lambda: gateway.fetch_message(message.sid).status == "delivered")
    finally:
        process.stop()
    process = start_sandbox(address, name="twilio-sandbox-restart")
    try:
        again = gateway.fetch_message(message.sid)  # same subaccount credentials still valid
        assert (again.status, again.body) == ("delivered", "Hello")
        assert [s.sid for s in main_twilio().find_subaccounts("kept")] == [created.sid]
        profile = main_twilio().fetch_customer_profile(address.isv_profile_sid)
        assert profile.status == "twilio-approved"
    finally:
        process.stop()


def test_a_sandbox_killed_outright_leaves_no_callback_sender_behind(tmp_path):
    address = new_sandbox_address(tmp_path)
    process = start_sandbox(address, name="twilio-sandbox-killed")
    try:
        pid = process.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        wait_until(lambda: children.read_text().split())
        (sender,) = children.read_text().split()
        os.kill(pid, signal.SIGKILL)  # no chance to stop its child
        wait_until(lambda: not Path(f"/proc/{sender}").exists() or _is_zombie(sender))
    finally:
        process.stop()


def _is_zombie(pid: str) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def test_lists_and_fetches_the_gateway_does_not_use_yet_answer_in_twilios_shapes(subaccount):
    # Called through the SDK, so the contract check validates these answers too.
    sdk = subaccount.sdk_client()
    account = sdk.api.v2010.accounts(subaccount.account_sid)
    assert account.fetch().status == "active"
    address = subaccount.create_address(
        customer_name="Acme", street="1 Main St", city="Austin", region="TX", postal_code="78701"
    )
    assert account.addresses(address.sid).fetch().city == "Austin"
    number = subaccount.buy_phone_number(area_code="312")
    assert [n.sid for n in account.incoming_phone_numbers.list()] == [number.sid]
    assert account.incoming_phone_numbers(number.sid).fetch().phone_number == number.phone_number
    service = subaccount.create_messaging_service("lists")
    subaccount.add_number_to_messaging_service(service.sid, number.sid)
    messaging = sdk.messaging.v1
    assert service.sid in [s.sid for s in messaging.services.list()]
    assert [n.sid for n in messaging.services(service.sid).phone_numbers.list()] == [number.sid]
    assert messaging.services(service.sid).us_app_to_person.list() == []
    assert messaging.brand_registrations.list() == []
    profile = subaccount.create_customer_profile("lists")
    end_user = subaccount.create_end_user("rep", "authorized_representative_1", {"first_name": "A"})
    document = subaccount.create_supporting_document("doc", "customer_profile_address", {})
    subaccount.assign_to_customer_profile(profile.sid, end_user.sid)
    evaluation = subaccount.evaluate_customer_profile(profile.sid)
    trusthub = sdk.trusthub.v1
    assert [p.sid for p in trusthub.customer_profiles.list()] == [profile.sid]
    profile_api = trusthub.customer_profiles(profile.sid)
    assert [a.object_sid for a in profile_api.customer_profiles_entity_assignments.list()] == [
        end_user.sid
    ]
    assert (
        profile_api.customer_profiles_evaluations(evaluation.sid).fetch().status == "noncompliant"
    )
    assert trusthub.end_users(end_user.sid).fetch().attributes == {"first_name": "A"}
    assert trusthub.supporting_documents(document.sid).fetch().status == "DRAFT"
    assert trusthub.trust_products.list() == []

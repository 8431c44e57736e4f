"""Bulk sending: many texts at once over pooled connections, each with its own outcome, at most
the organization's throughput, slowing down (not storming) when Twilio answers 429."""

import gc
import threading
import time

import pytest

from smsplatform.providers.errors import (
    AmbiguousOutcome,
    PermanentRecipientError,
    RetryableError,
    Withdrawn,
)
from smsplatform.providers.twilio import OutgoingSMS, TwilioGateway, main_twilio
from tests.providers.helpers import run_in_own_thread

SENDER = "+15005550006"  # Twilio's test sender, valid for every account


def batch(count, *, prefix="+1415666", start=0, **extra):
    return [
        OutgoingSMS(
            key=f"msg-{i}", to=f"{prefix}{i:04d}", body=f"Offer {i}", from_number=SENDER, **extra
        )
        for i in range(start, start + count)
    ]


@pytest.fixture
def gateway(twilio_sandbox):
    return main_twilio()


@pytest.fixture
def fast_retries(settings):
    settings.TWILIO_BACKOFF_BASE = 0.02
    settings.TWILIO_BACKOFF_CAP = 0.2
    settings.TWILIO_MAX_ATTEMPTS = 8


def sent_to(twilio_sandbox, numbers) -> dict:
    """How many messages the sandbox holds for each of ``numbers``."""
    return {n: len(twilio_sandbox.messages(to=n)) for n in numbers}


def test_every_message_gets_its_own_result_in_order(gateway, twilio_sandbox):
    messages = batch(30, prefix="+1415700")
    messages[7] = OutgoingSMS(key="bad-number", to="+15005550001", body="x", from_number=SENDER)
    messages[19] = OutgoingSMS(key="opted-out", to="+15005550004", body="x", from_number=SENDER)
    results = gateway.send_messages(messages, concurrency=10)
    assert [r.key for r in results] == [m.key for m in messages]
    failed = {r.key: r.error for r in results if not r.ok}
    assert set(failed) == {"bad-number", "opted-out"}  # one recipient's error stops nobody else
    assert isinstance(failed["bad-number"], PermanentRecipientError)
    assert failed["opted-out"].code == 21610
    good = [r for r in results if r.ok]
    assert all(
        r.sid.startswith("SM") and r.status == "queued" and r.num_segments == 1 for r in good
    )
    assert len({r.sid for r in good}) == 28
    assert set(
        sent_to(twilio_sandbox, [m.to for m in messages if m.key.startswith("msg")]).values()
    ) == {1}


def test_sends_concurrently(gateway, twilio_sandbox):
    with twilio_sandbox.knobs_set(latency=0.2):
        started = time.monotonic()
        results = gateway.send_messages(batch(20, prefix="+1415701"), concurrency=20)
        elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    assert elapsed < 2.0  # one at a time would take 4 s


def test_holds_to_the_organizations_throughput(gateway):
    started = time.monotonic()
    results = gateway.send_messages(batch(21, prefix="+1415702"), concurrency=10, max_per_second=20)
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    assert elapsed >= 0.95  # 20 intervals of 50 ms after the first


def test_429s_slow_the_batch_down_and_every_message_goes_out_once(
    gateway, twilio_sandbox, fast_retries
):
    numbers = [m.to for m in batch(40, prefix="+1415703")]
    before = twilio_sandbox.stats().get("throttled", 0)
    with twilio_sandbox.knobs_set(max_concurrency=3, latency=0.05):
        results = gateway.send_messages(batch(40, prefix="+1415703"), concurrency=12)
    throttled = twilio_sandbox.stats().get("throttled", 0) - before
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert throttled > 0  # the sandbox did push back...
    assert throttled < 40  # ...and fewer times than there are messages: no retry storm
    assert set(sent_to(twilio_sandbox, numbers).values()) == {1}


def test_gives_up_after_the_bounded_attempts_when_throttling_persists(
    gateway, twilio_sandbox, settings
):
    settings.TWILIO_BACKOFF_BASE = 0.01
    settings.TWILIO_BACKOFF_CAP = 0.05
    settings.TWILIO_MAX_ATTEMPTS = 3
    with twilio_sandbox.knobs_set(max_concurrency=1, latency=1.5):
        # Another sender holds the account's only slot for the whole batch.
        hog = threading.Thread(target=gateway.send_messages, args=(batch(1, prefix="+1415709"),))
        hog.start()
        time.sleep(0.3)
        before = twilio_sandbox.stats()["requests"]
        results = gateway.send_messages(batch(2, prefix="+1415704"), concurrency=2)
        requests_made = twilio_sandbox.stats()["requests"] - before
        hog.join()
    assert all(isinstance(r.error, RetryableError) and r.error.code == 20429 for r in results)
    assert requests_made == 2 * 3  # three attempts each, then the caller decides


def test_a_5xx_is_ambiguous_and_never_resent(gateway, twilio_sandbox):
    before = twilio_sandbox.stats()["requests"]
    with twilio_sandbox.knobs_set(error_rate=1.0):
        results = gateway.send_messages(batch(5, prefix="+1415705"), concurrency=5)
    assert all(isinstance(r.error, AmbiguousOutcome) for r in results)
    assert twilio_sandbox.stats()["requests"] - before == 5  # not one retry


def test_an_ambiguous_outcome_can_be_reconciled_by_listing(gateway, twilio_sandbox):
    # The sandbox stores the message, then answers 500: exactly why a blind resend is unsafe.
    with twilio_sandbox.knobs_set(ambiguous_error_rate=1.0):
        (result,) = gateway.send_messages(batch(1, prefix="+1415706"), concurrency=1)
    assert isinstance(result.error, AmbiguousOutcome)
    found = gateway.list_messages(to="+14157060000")
    assert len(found) == 1 and found[0].body == "Offer 0"


def test_a_read_timeout_after_sending_is_ambiguous(gateway, twilio_sandbox, settings):
    settings.TWILIO_READ_TIMEOUT = 0.3
    with twilio_sandbox.knobs_set(latency=1.0):
        (result,) = gateway.send_messages(batch(1, prefix="+1415707"), concurrency=1)
    assert isinstance(result.error, AmbiguousOutcome)
    assert result.sid is None


def test_an_unreachable_twilio_is_retried_then_reported_as_retryable(settings):
    settings.TWILIO_API_BASE = "http://127.0.0.1:9/api"  # nothing listens: refused at once
    settings.TWILIO_BACKOFF_BASE = 0.01
    settings.TWILIO_BACKOFF_CAP = 0.02
    settings.TWILIO_MAX_ATTEMPTS = 2
    gateway = TwilioGateway("AC" + "1" * 32, "token")
    results = gateway.send_messages(batch(3), concurrency=2)
    assert all(isinstance(r.error, RetryableError) and r.sid is None for r in results)


def test_an_empty_batch_sends_nothing(gateway):
    assert gateway.send_messages([], concurrency=5) == []


def test_async_code_can_await_the_batch_or_block_on_it(gateway):
    async def from_async_code():
        awaited = await gateway.send_messages_async(batch(2, prefix="+1415708"), concurrency=2)
        blocked = gateway.send_messages(batch(2, prefix="+1415709"), concurrency=2)
        return awaited + blocked

    results = run_in_own_thread(from_async_code())
    assert len(results) == 4 and all(r.ok for r in results)


def test_a_sending_session_sends_batch_after_batch_each_with_its_results(gateway, twilio_sandbox):
    first, second = batch(12, prefix="+1415720"), batch(9, prefix="+1415721")
    with gateway.sending_session(concurrency=5) as session:
        queued = [session.submit(first), session.submit(second), session.submit([])]
        results = [future.result(timeout=30) for future in queued]
    assert [[r.key for r in batch_results] for batch_results in results] == [
        [m.key for m in first],
        [m.key for m in second],
        [],
    ]
    assert all(r.ok for r in results[0] + results[1])
    numbers = [m.to for m in first + second]
    assert set(sent_to(twilio_sandbox, numbers).values()) == {1}


def test_a_sending_sessions_pacing_spans_its_batches(gateway):
    started = time.monotonic()
    with gateway.sending_session(concurrency=10, max_per_second=20) as session:
        queued = [session.submit(batch(11, prefix="+1415722")), session.submit(batch(10))]
        assert all(r.ok for future in queued for r in future.result(timeout=30))
    assert time.monotonic() - started >= 0.95  # 21 requests, 20 intervals of 50 ms


def test_a_withdrawn_session_starts_nothing_more_and_says_so_at_once(gateway, twilio_sandbox):
    """At 4 texts a second, 20 texts take 5 s: withdrawn after the first second, the messages
    waiting for their turn (and a batch submitted later) are answered at once, never sent;
    the requests already made finish as usual."""
    messages = batch(20, prefix="+1415725")
    later = batch(3, prefix="+1415726")
    with gateway.sending_session(concurrency=5, max_per_second=4) as session:
        pending = session.submit(messages)
        time.sleep(1)
        session.withdraw()
        withdrawn_at = time.monotonic()
        results = pending.result(timeout=30)
        answered_after = time.monotonic() - withdrawn_at
        late_results = session.submit(later).result(timeout=30)

    assert answered_after < 0.5  # not the 4 s the rest would have taken
    sent = [r for r in results if r.ok]
    assert 2 <= len(sent) <= 8
    assert all(isinstance(r.error, Withdrawn) for r in results if not r.ok)
    assert [r.key for r in results] == [m.key for m in messages]
    held = sent_to(twilio_sandbox, [m.to for m in messages + later])
    assert sum(held.values()) == len(sent)
    assert all(isinstance(r.error, Withdrawn) for r in late_results)


def test_a_bug_while_sending_fails_its_batch_instead_of_hanging_it(gateway, monkeypatch):
    from smsplatform.providers import twilio_bulk

    real_send = twilio_bulk._Batch.send

    async def broken_for_one(self, sms):
        if sms.key == "msg-3":
            raise KeyError("a bug")
        return await real_send(self, sms)

    monkeypatch.setattr(twilio_bulk._Batch, "send", broken_for_one)
    with gateway.sending_session(concurrency=2) as session:
        broken = session.submit(batch(5, prefix="+1415723"))
        fine = session.submit(batch(2, prefix="+1415724", start=10))
        with pytest.raises(KeyError):
            broken.result(timeout=30)
        assert all(r.ok for r in fine.result(timeout=30))


def test_a_sending_session_keeps_the_garbage_collector_off_the_heap_until_it_ends(gateway):
    with gateway.sending_session(concurrency=2):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_sending_session_that_cannot_open_leaves_no_thread_behind(gateway, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("no client")

    monkeypatch.setattr(gateway, "sdk_client", broken)
    session = gateway.sending_session(concurrency=2)
    with pytest.raises(RuntimeError):
        session.__enter__()
    assert not [t for t in threading.enumerate() if t.name == "sms-sender"]
    assert gc.get_freeze_count() == 0

"""Sending a campaign run: exactly once per recipient, at the organization's pace, within the
law at the moment of sending (DESIGN §3).

1. materialize_run: one INSERT … SELECT writes a pending message row per subscribed recipient
   (unique per run and contact, so a retried task adds nobody twice).
2. dispatch_run, in batches:
   - claim due rows with SELECT … FOR UPDATE SKIP LOCKED and decide, per row, at this moment:
     still subscribed? inside quiet hours in the recipient's zone? render the text (the very
     first text to a contact names the business and says how to opt out); rows to send are
     committed as "sending" with their final text BEFORE the provider is called;
   - send them concurrently through the Twilio gateway at the organization's rate;
   - write the outcomes in bulk (SIDs, errors in plain words, retries for the not-processed).
3. A row left "sending" by a crash (or a timeout after the request went out) is reconciled
   with the provider: if Twilio has that text to that number since the claim, it is adopted;
   only if not is it sent again. Nothing is ever sent blind a second time.
4. Progress never depends on one task surviving: a beat schedule per sending run (the
   watchdog) re-fires dispatch_run every WATCHDOG_SECONDS; a lock in the cache makes a second
   dispatcher for the same run step aside while the first is alive.
"""

import datetime as dt
import json
import logging
import math
import secrets
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging import campaigns, policy
from messaging.bulk import update_rows
from messaging.encoding import text_cost
from messaging.models import CampaignRun, ConsentEvent, Contact, Message
from messaging.phones import InvalidPhone, parse_phone
from messaging.quiet_hours import candidate_zones, next_send_time, window_for
from messaging.rendering import contact_values, render_merge_fields
from messaging.status_callbacks import apply_pending_status_events, early_statuses

logger = logging.getLogger(__name__)

BATCH_SIZE = getattr(settings, "DISPATCH_BATCH_SIZE", 500)
# A batch is at most this many seconds of the organization's sending, not the minutes 500 texts
# take at the default 10 a second: claimed rows hold their allowance and wait in the sender's
# queue, and at a run's end the last batch is all that is left to wait for. (A pause or a cancel
# does not wait for the batches: what has not started is withdrawn, see _results.)
BATCH_SECONDS = getattr(settings, "DISPATCH_BATCH_SECONDS", 2)
TIME_BUDGET_SECONDS = getattr(settings, "DISPATCH_TIME_BUDGET_SECONDS", 120)
LOCK_SECONDS = getattr(settings, "DISPATCH_LOCK_SECONDS", 90)
STALE_CLAIM_SECONDS = getattr(settings, "DISPATCH_STALE_CLAIM_SECONDS", 60)
WATCHDOG_SECONDS = getattr(settings, "DISPATCH_WATCHDOG_SECONDS", 30)
# How often a dispatcher waiting on a batch looks whether its run was paused or canceled.
STOP_CHECK_SECONDS = 0.5
MAX_ATTEMPTS = 8
STOPPED = (CampaignRun.Status.PAUSED, CampaignRun.Status.CANCELED, CampaignRun.Status.COMPLETED)
MMS_MESSAGES = policy.MMS_MESSAGES


# --- 1. materialise ---------------------------------------------------------------------------


def materialize_run(run: CampaignRun) -> int:
    """Write one pending message per recipient; idempotent. Returns the run's recipient count."""
    campaign = run.campaign
    recipients = campaigns.audience(campaign).values("id", "phone", "timezone")
    sql, params = recipients.query.sql_with_params()
    sender = policy.sender_for(connection.tenant)
    if run.per_recipient_time:
        local = dt.datetime.combine(campaign.local_date, campaign.local_time)
        send_after = "(%s::timestamp AT TIME ZONE COALESCE(NULLIF(r.timezone, ''), %s))"
        send_after_params = [local, connection.tenant.timezone]
    else:
        send_after, send_after_params = "NULL", []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO messaging_message (
                direction, kind, contact_id, run_id, to_phone, from_phone, body, media_urls,
                status, error_reason, attempts, send_after, created_at
            )
            SELECT 'out', 'campaign', r.id, %s, r.phone, %s, '', %s,
                   'pending', '', 0, {send_after}, now()
            FROM ({sql}) AS r
            ON CONFLICT (run_id, contact_id) WHERE run_id IS NOT NULL DO NOTHING
            """,  # noqa: S608 - sql is Django's own compiled queryset
            [run.pk, sender.from_number, run.media_urls, *send_after_params, *params],
        )
    count = Message.objects.filter(run=run).count()
    CampaignRun.objects.filter(pk=run.pk).update(
        recipients=count, status=CampaignRun.Status.SENDING, started_at=timezone.now()
    )
    run.recipients, run.status = count, CampaignRun.Status.SENDING
    return count


# --- 2. dispatch ------------------------------------------------------------------------------


@dataclass
class Claimed:
    message: Message
    to_phone: str
    body: str


def dispatch_run(run_id: int, *, time_budget: float = TIME_BUDGET_SECONDS) -> str:
    """Send what is due for this run, for up to ``time_budget`` seconds. Returns what happened:
    "busy" (another dispatcher has it), "done", "paused", "waiting" or "continue".

    One dispatcher per run at a time (a cache lock, so the watchdog's re-fires step aside).
    Correctness does not rest on that lock: rows are claimed with SKIP LOCKED, and a row left
    "sending" is only reconciled once its claimer's advisory lock is gone (see ClaimToken)."""
    run = CampaignRun.objects.get(pk=run_id)
    if run.status in STOPPED and not run.messages.filter(status=Message.Status.SENDING).exists():
        # Nothing to send and no claim left to reconcile: the watchdog has nothing to keep
        # going until a resume arms it again (campaigns.resume_campaign).
        remove_watchdog(run)
        return run.status
    lock_key, cache_token = f"dispatch-run:{run_id}", uuid.uuid4().hex
    if not cache.add(lock_key, cache_token, LOCK_SECONDS):
        return "busy"
    try:
        with ClaimToken() as token:
            return _dispatch(run_id, lock_key, cache_token, token, time.monotonic() + time_budget)
    finally:
        if cache.get(lock_key) == cache_token:
            cache.delete(lock_key)


class ClaimToken:
    """This dispatcher's identity for the rows it claims, held as a session-level PostgreSQL
    advisory lock for its lifetime. If its process dies, its connection closes and the lock is
    gone at once; while it lives, nobody can take the lock, so nobody touches its rows."""

    NAMESPACE = 0x534D53  # "SMS": advisory-lock keys of this module

    def __enter__(self) -> int:
        self.value = secrets.randbelow(2**31 - 1) + 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [self.NAMESPACE, self.value])
        return self.value

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [self.NAMESPACE, self.value])

    @classmethod
    def claimer_is_gone(cls, token: int) -> bool:
        """True if the dispatcher that holds ``token`` no longer exists (its lock is free).
        Leaves the lock taken: call release() after reconciling its rows."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [cls.NAMESPACE, token])
            return cursor.fetchone()[0]

    @classmethod
    def release(cls, token: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [cls.NAMESPACE, token])


@dataclass
class InFlight:
    """A batch being sent (in the sender thread) while the dispatcher gets on with the next."""

    claimed: list
    future: Future
    claim_seconds: float
    started: float

    @property
    def message_ids(self):
        return {item.message.pk for item in self.claimed}


def _dispatch(run_id, lock_key, cache_token, token, deadline) -> str:
    """Pipelined: while batch k is being sent (the sending session's thread), this thread
    claims batch k+1 and queues it right behind k, so that the sending never waits for the
    database; then it records k's outcomes once k is done. The database work hides behind the
    sending, and the session's slots stay busy from one batch to the next."""
    from smsplatform.providers.twilio import twilio_for

    gateway = twilio_for(connection.tenant)
    flights = deque()
    rate = policy.sending_rate(connection.tenant)
    with gateway.sending_session(
        concurrency=settings.TWILIO_SEND_CONCURRENCY, max_per_second=rate
    ) as sender:
        try:
            return _dispatch_loop(
                run_id, lock_key, cache_token, token, deadline, gateway, sender, flights,
                batch_size(rate),
            )  # fmt: skip
        finally:
            while flights:  # never leave a sent batch unrecorded
                flight = flights.popleft()
                _record_in_flight(run_id, flight, _results(run_id, flight, sender))


def batch_size(messages_per_second: float) -> int:
    return max(1, min(BATCH_SIZE, math.ceil(messages_per_second * BATCH_SECONDS)))


def _dispatch_loop(run_id, lock_key, cache_token, token, deadline, gateway, sender, flights, batch):
    organization = connection.tenant
    while time.monotonic() < deadline:
        cache.set(lock_key, cache_token, LOCK_SECONDS)
        sending = set().union(*(flight.message_ids for flight in flights))
        reconcile_stale_claims(run_id, gateway, own_token=token, in_flight=sending)
        run = CampaignRun.objects.select_related("campaign").get(pk=run_id)
        if run.status != CampaignRun.Status.SENDING:
            sender.withdraw()  # paused or canceled: what has not started stays unsent
            return run.status
        block = policy.sending_block(organization)
        if block:
            pause_run(run, block)
            sender.withdraw()
            return "paused"
        claim_started = time.perf_counter()
        try:
            claimed = claim_batch(run, timezone.now(), batch, token=token)
        except AllowanceUsedUp:
            pause_run(run, policy.ALLOWANCE_USED_UP)
            return "paused"
        if claimed:
            claim_seconds = time.perf_counter() - claim_started
            flights.append(_start_sending(run, claimed, sender, claim_seconds))
        # One batch queued behind the one being sent; the older is recorded once it is done.
        if len(flights) > 1 or (flights and not claimed):
            flight = flights.popleft()
            _record_in_flight(run_id, flight, _results(run_id, flight, sender), run=run)
        if flights:
            continue
        pause = _seconds_until_next_due(run)
        if pause is None or pause > SHORT_WAIT_SECONDS or time.monotonic() + pause > deadline:
            return _finish_or_wait(run)
        time.sleep(max(pause, 0.05))  # a retry backoff of a few seconds: wait here, keep the lock
    return "continue"


def _results(run_id, flight: InFlight, sender) -> list:
    """The batch's results, once all are in. Meanwhile, every STOP_CHECK_SECONDS, a look at the
    run and its organization: once the run is paused or canceled, or the organization's sending
    stopped (suspended, or paused by support or by a carrier's verdict), nothing more starts
    (SendingSession.withdraw). A pause takes effect within a round trip, not after the batches
    already queued."""
    while True:
        try:
            return flight.future.result(timeout=STOP_CHECK_SECONDS)
        except TimeoutError:
            run = CampaignRun.objects.get(pk=run_id)
            if run.status != CampaignRun.Status.SENDING:
                sender.withdraw()
                continue
            reason = policy.stop_reason(connection.tenant)
            if reason:
                pause_run(run, reason)
                sender.withdraw()


def _start_sending(run, claimed, sender, claim_seconds) -> InFlight:
    return InFlight(
        claimed, sender.submit(outgoing_messages(run, claimed)), claim_seconds, time.perf_counter()
    )


def _record_in_flight(run_id, in_flight: InFlight, results, run=None) -> None:
    sent = time.perf_counter()
    run = run or CampaignRun.objects.get(pk=run_id)
    record_outcomes(run, {item.message.pk: item.message for item in in_flight.claimed}, results)
    logger.info(
        "Run %s: %d messages claimed in %.2fs, sent in %.2fs, recorded in %.2fs",
        run_id, len(in_flight.claimed), in_flight.claim_seconds, sent - in_flight.started,
        time.perf_counter() - sent,
    )  # fmt: skip


SHORT_WAIT_SECONDS = 5


def _seconds_until_next_due(run: CampaignRun) -> float | None:
    next_due = (
        Message.objects.filter(run=run, status=Message.Status.PENDING, send_after__isnull=False)
        .order_by("send_after")
        .values_list("send_after", flat=True)
        .first()
    )
    return None if next_due is None else (next_due - timezone.now()).total_seconds()


def claim_batch(
    run: CampaignRun, now: dt.datetime, limit: int = BATCH_SIZE, *, token: int | None = None
) -> list[Claimed]:
    """Lock up to ``limit`` due rows, decide for each at this moment, and commit the ones to
    send as "sending" with their final text. Rows other dispatchers hold are skipped."""
    organization = connection.tenant
    settings_row = policy.compliance()
    zone_default = organization.timezone
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contact")
            .filter(run=run, status=Message.Status.PENDING)
            .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
            .order_by("id")[:limit]
        )
        to_send, changed = [], []
        for message in rows:
            contact = message.contact
            if contact is None or contact.status != Contact.Status.SUBSCRIBED:
                _skip(
                    message,
                    now,
                    "Unsubscribed before it was sent" if contact else "Contact deleted",
                )
                changed.append(message)
                continue
            zones = candidate_zones(contact.timezone, _number_zones(contact.phone), zone_default)
            window = window_for(
                contact.region, settings_row.quiet_hours_start, settings_row.quiet_hours_end
            )
            not_before = next_send_time(now, window=window, zones=zones)
            if not_before > now:
                message.send_after = not_before  # quiet hours: held until the window opens
                changed.append(message)
                continue
            body = render_merge_fields(run.body, contact_values(contact, organization.name))
            if contact.first_messaged_at is None:
                body = policy.with_first_message_disclosure(body, organization.name)
            message.body = body
            message.segments = MMS_MESSAGES if run.media_urls else max(text_cost(body).segments, 1)
            to_send.append(Claimed(message, contact.phone, body))
        to_send = _within_allowance(to_send, organization)
        for item in to_send:
            item.message.status = Message.Status.SENDING
            item.message.claimed_at, item.message.claim_token = now, token
            item.message.attempts += 1
            changed.append(item.message)
        update_rows(
            Message,
            changed,
            ["status", "body", "segments", "send_after", "claimed_at", "claim_token", "attempts",
             "error_reason", "status_changed_at"],
        )  # fmt: skip
    return to_send


class AllowanceUsedUp(Exception):
    """Nothing left of this period's messages (and overage is not billed)."""


def _within_allowance(candidates: list[Claimed], organization) -> list[Claimed]:
    """The leading rows whose messages the allowance grants. Reserved inside the claim's
    transaction, so a claim that rolls back gives its reservation back too."""
    wanted = sum(item.message.segments for item in candidates)
    granted = policy.reserve_messages(organization, wanted)
    if candidates and granted == 0:
        raise AllowanceUsedUp
    kept, used = [], 0
    for item in candidates:
        if used + item.message.segments > granted:
            break
        kept.append(item)
        used += item.message.segments
    policy.release_messages(organization, granted - used)
    return kept


def _skip(message, now, reason):
    message.status, message.error_reason, message.status_changed_at = (
        Message.Status.SKIPPED,
        reason,
        now,
    )


_zone_cache: dict[str, tuple] = {}


def _number_zones(phone: str) -> tuple[str, ...]:
    key = phone[:8]
    zones = _zone_cache.get(key)
    if zones is None:
        try:
            zones = parse_phone(phone).timezones
        except InvalidPhone:
            zones = ()
        _zone_cache[key] = zones
    return zones


def outgoing_messages(run: CampaignRun, claimed: list[Claimed]):
    from smsplatform.providers.twilio import OutgoingSMS

    sender = policy.sender_for(connection.tenant)
    callback = policy.status_callback_url()
    return [
        OutgoingSMS(
            key=str(item.message.pk),
            to=item.to_phone,
            body=item.body,
            from_number=sender.from_number or None,
            messaging_service_sid=sender.messaging_service_sid or None,
            media_urls=tuple(run.media_urls),
            status_callback=callback,
        )
        for item in claimed
    ]


def record_outcomes(run, messages_by_id: dict, results) -> None:
    """Write every outcome of a batch in a few statements."""
    from smsplatform.providers import errors

    now = timezone.now()
    accepted, changed, withdrawn, opted_out, blocked = [], [], [], [], None
    accepted_by_sid = {}
    not_taken = 0  # reserved messages the carrier did not take (unknown outcomes excluded)
    for result in results:
        message = messages_by_id[int(result.key)]
        error = result.error
        if error is None:
            message.sid = result.sid
            message.status = Message.Status.QUEUED
            message.sent_at = message.status_changed_at = now
            accepted.append(message)
            accepted_by_sid[message.sid] = message
        elif isinstance(error, errors.AmbiguousOutcome):
            continue  # stays "sending" and reserved: reconciled before any resend
        elif isinstance(error, errors.Withdrawn):
            not_taken += message.segments or 1
            message.attempts -= 1  # never requested: not an attempt
            withdrawn.append(message)
            continue
        elif isinstance(error, errors.RetryableError | errors.AccountBlockedError):
            not_taken += message.segments or 1
            if isinstance(error, errors.AccountBlockedError):
                blocked = error
            if message.attempts >= MAX_ATTEMPTS:
                message.status, message.status_changed_at = Message.Status.FAILED, now
                message.error_code = error.code
                message.error_reason = "The carrier could not be reached"
            else:  # not processed: send again after a backoff
                message.status, message.claimed_at = Message.Status.PENDING, None
                message.send_after = now + dt.timedelta(seconds=min(2**message.attempts, 300))
        else:
            not_taken += message.segments or 1
            message.status, message.status_changed_at = Message.Status.FAILED, now
            message.error_code = error.code
            message.error_reason = (error.plain_reason or str(error))[:255]
            if error.code == 21610:
                opted_out.append(message.contact_id)
        changed.append(message)
    # Twilio often calls back before this write: the message goes straight to its furthest
    # reported status, written once. Callbacks stored from here to our commit are applied after
    # it (apply_pending_status_events).
    written = early_statuses([m.sid for m in accepted])
    for sid, status in written.items():
        accepted_by_sid[sid].status = status
    with transaction.atomic():
        _put_back(run.pk, withdrawn, now)
        update_rows(
            Message,
            changed + withdrawn,
            ["sid", "status", "sent_at", "status_changed_at", "error_code", "error_reason",
             "claimed_at", "send_after", "attempts"],
        )  # fmt: skip
        if accepted:
            contact_ids = [m.contact_id for m in accepted if m.contact_id]
            # One UPDATE, so each contact row is rewritten once (with its eight indexes).
            Contact.objects.filter(id__in=contact_ids).update(
                last_campaign_at=now,
                first_messaged_at=Coalesce("first_messaged_at", Value(now)),
            )
            policy.record_usage(
                connection.tenant, sum(m.segments or 1 for m in accepted), reference=f"run:{run.pk}"
            )
        for contact in Contact.objects.filter(id__in=opted_out):
            from messaging import services

            services.record_opt_out(
                contact,
                services.Consent(
                    method=ConsentEvent.Method.CARRIER, source="Twilio error 21610 (replied STOP)"
                ),
            )
    policy.release_messages(connection.tenant, not_taken)
    apply_pending_status_events([m.sid for m in accepted], written=written)
    if blocked is not None:
        policy.pause_organization_sending(connection.tenant, blocked.plain_reason or str(blocked))


def _put_back(run_id, messages, now) -> None:
    """Claimed messages that were never sent (withdrawn, or not found at Twilio after a crash):
    back in line for when the run resumes, or canceled with their run. Called in the
    transaction that writes them: the run's row stays locked until then, so that a cancel
    (which locks it before canceling the pending messages) comes wholly before or after."""
    if not messages:
        return
    status = (
        CampaignRun.objects.select_for_update(no_key=True)
        .filter(pk=run_id)
        .values_list("status", flat=True)
        .get()
    )
    for message in messages:
        if status == CampaignRun.Status.CANCELED:
            message.status, message.status_changed_at = Message.Status.CANCELED, now
        else:
            message.status, message.claimed_at = Message.Status.PENDING, None


def _finish_or_wait(run: CampaignRun) -> str:
    from messaging.tasks import dispatch_run as dispatch_task

    remaining = Message.objects.filter(
        run=run, status__in=[Message.Status.PENDING, Message.Status.SENDING]
    )
    next_due = (
        remaining.filter(status=Message.Status.PENDING)
        .order_by("send_after")
        .values_list("send_after", flat=True)
        .first()
    )
    if not remaining.exists():
        complete_run(run)
        return "done"
    if next_due is not None and next_due > timezone.now():
        # Held for quiet hours or local time: come back then (the watchdog covers a lost task).
        dispatch_task.apply_async((run.pk,), eta=next_due)
    return "waiting"


@transaction.atomic
def complete_run(run: CampaignRun) -> None:
    from messaging.models import Campaign

    updated = CampaignRun.objects.filter(pk=run.pk, status=CampaignRun.Status.SENDING).update(
        status=CampaignRun.Status.COMPLETED, completed_at=timezone.now()
    )
    if not updated:
        return
    campaign = run.campaign
    if (
        campaign.schedule != campaign.Schedule.RECURRING
        and campaign.status == Campaign.Status.SENDING
    ):
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    remove_watchdog(run)


def pause_run(run: CampaignRun, reason: str) -> None:
    from messaging.models import Campaign

    with transaction.atomic():
        CampaignRun.objects.filter(pk=run.pk, status=CampaignRun.Status.SENDING).update(
            status=CampaignRun.Status.PAUSED, paused_reason=reason[:255]
        )
        Campaign.objects.filter(pk=run.campaign_id, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.PAUSED
        )


# --- 3. reconcile -----------------------------------------------------------------------------


def reconcile_stale_claims(
    run_id: int,
    gateway,
    *,
    own_token: int | None = None,
    older_than_seconds: float | None = None,
    in_flight=(),
) -> int:
    """Rows left "sending" are looked up at the provider: adopted if the text went out, released
    for sending if it did not. Only rows nobody is working on: those of a dispatcher that is
    gone (its advisory lock is free), and this dispatcher's own unknown outcomes once Twilio has
    had STALE_CLAIM_SECONDS to list them."""
    age = STALE_CLAIM_SECONDS if older_than_seconds is None else older_than_seconds
    sending = Message.objects.filter(run_id=run_id, status=Message.Status.SENDING).exclude(
        pk__in=list(in_flight)
    )
    tokens = set(sending.values_list("claim_token", flat=True).distinct())
    total = 0
    for token in tokens:
        rows = sending.filter(claim_token=token)
        if token == own_token:
            total += _reconcile(
                run_id,
                gateway,
                rows.filter(claimed_at__lt=timezone.now() - dt.timedelta(seconds=age)),
            )
        elif token is None:
            total += _reconcile(run_id, gateway, rows)
        elif ClaimToken.claimer_is_gone(token):
            try:
                total += _reconcile(run_id, gateway, rows)
            finally:
                ClaimToken.release(token)
    return total


def _reconcile(run_id: int, gateway, rows) -> int:
    stale = list(rows)
    if not stale:
        return 0
    with ThreadPoolExecutor(max_workers=min(len(stale), RECONCILE_CONCURRENCY)) as pool:
        found = list(pool.map(lambda m: sent_copy(gateway, m), stale))
    now = timezone.now()
    unsent = []
    for message, provider_message in zip(stale, found, strict=True):
        if provider_message is not None:
            message.sid, message.status = provider_message.sid, Message.Status.QUEUED
            message.sent_at = message.status_changed_at = now
        else:
            unsent.append(message)
        message.claim_token = None
    with transaction.atomic():
        _put_back(run_id, unsent, now)
        update_rows(
            Message,
            stale,
            ["sid", "status", "sent_at", "status_changed_at", "claimed_at", "claim_token"],
        )
        sent = [m for m, f in zip(stale, found, strict=True) if f is not None]
        policy.record_usage(
            connection.tenant,
            sum(m.segments or 1 for m in sent),
            reference=f"run:{run_id}:reconciled",
        )
        policy.release_messages(
            connection.tenant,
            sum(m.segments or 1 for m, f in zip(stale, found, strict=True) if f is None),
        )
    apply_pending_status_events([m.sid for m in sent])
    logger.warning(
        "Run %s: reconciled %d claims left sending (%d had been sent, %d will be sent)",
        run_id, len(stale), len(sent), len(stale) - len(sent),
    )  # fmt: skip
    return len(stale)


RECONCILE_CONCURRENCY = 16
# Allowance for clocks: Twilio's date_created against our claimed_at.
CLOCK_SKEW = dt.timedelta(minutes=5)


def sent_copy(gateway, message: Message):
    """The provider's message with this text to this number since the claim, if any. Not
    filtered by Twilio's DateSent: a message still queued has none, and would look unsent."""
    since = message.claimed_at - CLOCK_SKEW
    candidates = gateway.list_messages(to=message.to_phone, limit=50)
    return next(
        (
            m
            for m in candidates
            if (m.body or "") == message.body
            and (m.date_created is None or m.date_created >= since)
        ),
        None,
    )


# --- 4. watchdog ------------------------------------------------------------------------------


def watchdog_name(run: CampaignRun) -> str:
    return f"dispatch watchdog {connection.tenant.schema_name}:run:{run.pk}"


def ensure_watchdog(run: CampaignRun) -> None:
    """A beat schedule that keeps re-firing dispatch_run while the run is sending, so that a
    killed worker, a lost task or a Redis restart never strands a campaign."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=WATCHDOG_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name=watchdog_name(run),
        defaults={
            "task": "messaging.tasks.dispatch_run",
            "interval": every,
            "args": json.dumps([run.pk]),
            "headers": json.dumps({"_schema_name": connection.tenant.schema_name}),
            "description": f"Keeps campaign run {run.pk} of {connection.tenant.name} sending",
            "enabled": True,
        },
    )


def remove_watchdog(run: CampaignRun) -> None:
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name=watchdog_name(run)).delete()

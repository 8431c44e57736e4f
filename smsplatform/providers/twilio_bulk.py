"""Bulk sending for the Twilio gateway: many messages at once over pooled connections.

The SDK's async API (``messages.create_async``) runs over one aiohttp session per batch whose
connection pool is as large as the batch's concurrency; ``concurrency`` workers share the
messages and an AsyncRateLimiter spaces request starts to the organization's throughput. A
RoundTripPacer also spreads the requests that answers freed together over the round trip, so
that they do not reach Twilio (and come back) as one clump.

A 429 slows the whole batch down instead of letting every request retry on its own: the batch
pauses (growing, jittered backoff) and its concurrency halves (AdaptiveConcurrency), then grows
back while requests succeed. A 429 storm thus ends in fewer requests in flight, not in retries.

Why aiohttp rather than threads over a ``requests`` session: at 50 concurrent requests one event
loop keeps the send rate at the server's limit with a fraction of a core, where 50 threads
spend it on the GIL (docs/benchmarks.md, "Twilio gateway", measures both).
"""

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from urllib.parse import urlencode

import aiohttp
import uvloop
from django.conf import settings
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

from smsplatform.providers.errors import (
    ProviderError,
    RetryableError,
    Withdrawn,
    twilio_transport_error,
)
from smsplatform.providers.low_latency import LowLatency
from smsplatform.providers.pacing import (
    AdaptiveConcurrency,
    AsyncRateLimiter,
    RoundTripPacer,
    backoff_delay,
    burst_for,
)
from smsplatform.providers.twilio import message_parameters, rest_error
from smsplatform.providers.twilio_records import OutgoingSMS, SendResult


def send_messages(gateway, messages, *, concurrency, max_per_second) -> list[SendResult]:
    def batch():
        return uvloop.run(
            send_messages_async(
                gateway, messages, concurrency=concurrency, max_per_second=max_per_second
            )
        )

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return batch()
    # This thread already runs an event loop (async code, Playwright's sync API, a notebook):
    # the batch gets a loop of its own in a helper thread; the call still blocks.
    with ThreadPoolExecutor(max_workers=1) as helper:
        return helper.submit(batch).result()


async def send_messages_async(
    gateway, messages: Sequence[OutgoingSMS], *, concurrency: int, max_per_second: float | None
) -> list[SendResult]:
    if not messages:
        return []
    concurrency = max(1, min(concurrency, len(messages)))
    session, batch = await _open_batch(gateway, concurrency, max_per_second)
    async with session:
        results: list[SendResult | None] = [None] * len(messages)
        pending = iter(enumerate(messages))

        async def worker():
            # The workers share one iterator: each takes the next message when it is free.
            for index, sms in pending:
                results[index] = await batch.send(sms)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


class SendingSession:
    """Batch after batch over one connection pool and one event loop, in a thread of its own:
    ``submit`` queues a batch behind the ones still being sent and returns a Future of its
    results. A dispatcher that submits the next batch before the last one ends keeps every
    slot busy across batch boundaries (``send_messages`` lets its last requests finish alone,
    then opens a new pool). Pacing (the organization's throughput) and the backing off after a
    429 span the whole session, not one batch.

    ``withdraw`` stops it from starting any more requests: every message not yet on its way
    gets a Withdrawn result at once, so that a paused campaign stops within a round trip.

    Use it as a context manager; leaving it stops sending what was not yet started (those
    messages stay claimed, as after a crash, and are reconciled before any resend)."""

    def __init__(self, gateway, *, concurrency: int, max_per_second: float | None):
        self.gateway = gateway
        self.concurrency = max(1, concurrency)
        self.max_per_second = max_per_second
        # uvloop: the loop's own work (sockets, callbacks) costs the worker less CPU per message
        # than asyncio's, on a machine it shares with the database and the web workers.
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sms-sender")

    def __enter__(self):
        # Every request holds its slot until the loop reads its answer: no long waits for the
        # GIL or for the garbage collector meanwhile (low_latency explains both, with figures).
        self._low_latency = LowLatency().__enter__()
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()
        except BaseException:
            self._stop_loop()  # no thread left running behind a session that never opened
            raise
        return self

    def __exit__(self, *exc):
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result()
        finally:
            self._stop_loop()

    def _stop_loop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._low_latency.__exit__(None, None, None)

    def submit(self, messages: Sequence[OutgoingSMS]) -> Future:
        """Queue ``messages``; a Future of their results, one per message, in order."""
        future = Future()
        if not messages:
            future.set_result([])
            return future
        results: list[SendResult | None] = [None] * len(messages)
        remaining = len(messages)

        def deliver(index, result=None, error=None):  # on the loop's thread only
            nonlocal remaining
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
                return
            results[index] = result
            remaining -= 1
            if remaining == 0:
                future.set_result(results)

        def enqueue():
            for index, sms in enumerate(messages):
                self._queue.put_nowait((sms, partial(deliver, index)))

        self._loop.call_soon_threadsafe(enqueue)
        return future

    def withdraw(self) -> None:
        """Start no more requests (from any thread): the queued messages, and those waiting for
        a slot or for their turn, are answered Withdrawn. Requests already made finish."""
        self._loop.call_soon_threadsafe(self._withdraw)

    def _withdraw(self):
        self._batch.withdraw()
        while not self._queue.empty():
            sms, deliver = self._queue.get_nowait()
            deliver(result=withdrawn(sms))

    async def _open(self):
        self._session, self._batch = await _open_batch(
            self.gateway, self.concurrency, self.max_per_second
        )
        self._queue = asyncio.Queue()
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]

    async def _work(self):
        while True:
            sms, deliver = await self._queue.get()
            try:
                deliver(result=await self._batch.send(sms))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug, not a provider error: fail the batch, not hang it
                deliver(error=exc)

    async def _close(self):
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self._session.close()


async def _open_batch(gateway, concurrency: int, max_per_second: float | None):
    """A connection pool of ``concurrency`` connections (an aiohttp session, for the caller to
    close) and the _Batch that sends through it, on the running event loop."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency),
        timeout=aiohttp.ClientTimeout(
            total=None,
            sock_connect=settings.TWILIO_CONNECT_TIMEOUT,
            sock_read=settings.TWILIO_READ_TIMEOUT,
        ),
    )
    try:
        client = gateway.sdk_client(http_client=PooledAiohttpClient(session))
        batch = _Batch(
            messages_api=client.api.v2010.accounts(gateway.account_sid).messages,
            limiter=AsyncRateLimiter(max_per_second, burst=burst_for(max_per_second)),
            pacer=RoundTripPacer(),
            concurrency=AdaptiveConcurrency(concurrency),
        )
    except BaseException:
        await session.close()
        raise
    return session, batch


class _Batch:
    def __init__(self, *, messages_api, limiter, pacer, concurrency):
        self.messages_api = messages_api
        self.limiter = limiter
        self.pacer = pacer
        self.concurrency = concurrency
        self.parameters = message_parameters
        self.max_attempts = settings.TWILIO_MAX_ATTEMPTS
        self.backoff_base = settings.TWILIO_BACKOFF_BASE
        self.backoff_cap = settings.TWILIO_BACKOFF_CAP
        self.throttle_level = 0  # grows while retryable failures keep coming, back to 0 on success
        self.paused_until = 0.0
        self.withdrawn = False  # SendingSession.withdraw: make no more requests
        self.waiting = set()  # tasks waiting for their turn, not yet requesting
        self.withdrawing = set()  # of those, the ones withdraw cancelled

    async def send(self, sms: OutgoingSMS) -> SendResult:
        attempt = 1
        while True:
            started = await self._turn()
            if started is None:
                return withdrawn(sms)
            error = created = None
            try:
                sent_at = time.monotonic()
                created = await self.messages_api.create_async(**self.parameters(sms))
                self.pacer.observe(time.monotonic() - sent_at)
            except (TwilioRestException, TwilioServiceException) as exc:
                error = rest_error(exc, idempotent=False)
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = aiohttp_transport_error(exc)
            finally:
                pushed_back = error is not None and error.http_status == 429
                await self.concurrency.release(started, pushed_back=pushed_back)
            if error is None:
                self.throttle_level = 0
                return SendResult(
                    key=sms.key,
                    sid=created.sid,
                    status=created.status,
                    num_segments=int(created.num_segments or 0),
                )
            if isinstance(error, RetryableError) and attempt < self.max_attempts:
                self._slow_down()
                attempt += 1
                continue
            return SendResult(key=sms.key, sid=None, status=None, num_segments=0, error=error)

    async def _turn(self) -> float | None:
        """Wait for a slot, then for the rate limit and the pacing: the slot's start time (for
        ``concurrency.release``), or None once the session is withdrawn. SendingSession.withdraw
        cancels these waits, so a withdrawn message never waits out its turn."""
        if self.withdrawn:
            return None
        task = asyncio.current_task()
        self.waiting.add(task)
        try:
            started = await self.concurrency.acquire()
            try:
                await self.limiter.acquire()
                await self.pacer.acquire(self.concurrency.limit)
            except BaseException:
                await self.concurrency.release(started, pushed_back=False)
                raise
        except asyncio.CancelledError:
            if task not in self.withdrawing:
                raise
            # Our own cancel, not the session closing: this message is withdrawn, the worker
            # goes on (and answers the rest of the queue the same way).
            if task.uncancel() > 0:
                raise
            return None
        finally:
            self.waiting.discard(task)
            self.withdrawing.discard(task)
        if self.withdrawn:
            await self.concurrency.release(started, pushed_back=False)
            return None
        return started

    def withdraw(self) -> None:
        """Make no more requests; wake the messages waiting for their turn (on the loop)."""
        self.withdrawn = True
        self.withdrawing = set(self.waiting)
        for task in self.withdrawing:
            task.cancel()

    def _slow_down(self):
        """Pause the whole batch. Failures that arrive during a pause belong to the same wave
        (the requests were already in flight) and do not lengthen the next step."""
        now = asyncio.get_running_loop().time()
        if now >= self.paused_until:
            self.throttle_level += 1
        delay = backoff_delay(self.throttle_level, base=self.backoff_base, cap=self.backoff_cap)
        self.paused_until = max(self.paused_until, now + delay)
        self.limiter.pause(delay)


def withdrawn(sms: OutgoingSMS) -> SendResult:
    error = Withdrawn("withdrawn before it was sent")
    return SendResult(key=sms.key, sid=None, status=None, num_segments=0, error=error)


def aiohttp_transport_error(exc: BaseException) -> ProviderError:
    """No HTTP answer. Connecting failed: the request never left. Anything later (read timeout,
    dropped connection): Twilio may have sent the message."""
    never_sent = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return twilio_transport_error(
        f"{type(exc).__name__}: {exc}", request_sent=not never_sent, idempotent=False
    )


class PooledAiohttpClient(AsyncHttpClient):
    """The SDK's async HTTP interface over a caller's aiohttp session. Unlike the SDK's own
    AsyncTwilioHttpClient it keeps the session's connect/read timeouts (that one passes
    ``timeout=None`` per request, which disables them) and encodes repeated form keys
    (MediaUrl) the way Twilio expects."""

    def __init__(self, session: aiohttp.ClientSession):
        super().__init__(logging.getLogger("twilio.http_client"), True, None)
        self.session = session

    async def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ) -> Response:
        body = urlencode(data, doseq=True).encode() if data else None
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        async with self.session.request(
            method,
            uri,
            params=params or None,
            data=body,
            headers=headers,
            allow_redirects=allow_redirects,
        ) as response:
            return Response(response.status, await response.text(), response.headers)

"""Webhook delivery as Stripe does it: each event POSTed as JSON to the configured endpoint with
a ``Stripe-Signature: t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<body>">`` header, retried
with backoff until the endpoint answers 2xx. Optionally each event twice, and the events of one
action in random order: Stripe guarantees neither uniqueness nor order."""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time

import aiohttp

from smsplatform.sandboxes.stripe.objects import public

log = logging.getLogger("stripe_sandbox.webhooks")


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class Deliverer:
    def __init__(self, store, config):
        self.store = store
        self.config = config
        self.queue: asyncio.Queue = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task | None = None
        self._retries: set[asyncio.Task] = set()

    async def start(self):
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._worker = asyncio.create_task(self._run())

    async def stop(self):
        for task in [self._worker, *self._retries]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._session is not None:
            await self._session.close()

    def dispatch(self, events: list[dict]) -> None:
        """Queue the events of one action (a request or a page's button)."""
        if not events or not self.config.webhook_url:
            return
        batch = list(events)
        if self.config.shuffle_events:
            random.shuffle(batch)
        for event in batch:
            event["pending_webhooks"] = 1
            copies = 2 if self.config.duplicate_events else 1
            for _ in range(copies):
                self.queue.put_nowait((event["id"], self.config.webhook_url))
        self.store.touch()

    async def idle(self, timeout: float = 10.0) -> bool:
        """Whether every queued delivery has been tried (retries may still be scheduled)."""
        deadline = time.monotonic() + timeout
        while not self.queue.empty() or self._busy:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    _busy = False

    async def _run(self):
        # One delivery at a time, so without shuffling events arrive in the order they happened.
        while True:
            event_id, url = await self.queue.get()
            self._busy = True
            try:
                await self._deliver(event_id, url, attempt=1)
            except Exception:  # a delivery bug must not stop every later delivery
                log.exception("webhook delivery of %s failed", event_id)
            finally:
                self._busy = False

    async def _deliver(self, event_id: str, url: str, attempt: int):
        event = self.store.events.get(event_id)
        if event is None:  # reset in the meantime
            return
        payload = json.dumps(public(event), indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(payload, self.config.webhook_secret),
        }
        record = {"attempt": attempt, "at": int(time.time()), "url": url}
        try:
            async with self._session.post(url, data=payload.encode(), headers=headers) as resp:
                record["status"] = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            record["status"] = None
            record["error"] = type(error).__name__
        event.setdefault("_deliveries", []).append(record)
        delivered = record["status"] is not None and 200 <= record["status"] < 300
        if delivered:
            event["pending_webhooks"] = 0
        elif attempt < self.config.webhook_attempts:
            delay = self.config.webhook_retry_seconds * 2 ** (attempt - 1)
            task = asyncio.create_task(self._retry_later(event_id, url, attempt + 1, delay))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        self.store.touch()

    async def _retry_later(self, event_id, url, attempt, delay):
        await asyncio.sleep(delay)
        await self._deliver(event_id, url, attempt)

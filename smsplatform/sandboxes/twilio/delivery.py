"""What happens to a message after Twilio accepted it, and what Twilio calls back.

Outbound: queued (accepted with a Messaging Service) → sent → delivered, or → undelivered /
failed for the designated numbers of magic.DELIVERY_FAILURES, one status change every
``delivery_delay`` seconds. Each change after the first is POSTed to the message's
StatusCallback (or its service's), signed with the account's auth token as Twilio does.

Inbound: a text injected through /sandbox/inbound becomes a received message, POSTed (signed) to
the service's InboundRequestUrl or the number's SmsUrl. STOP-like replies block the sender
(later sends answer 21610) until START, as Twilio's default opt-out handling does.

Callbacks go out through a fixed number of workers: a burst of 100,000 messages never opens
more than ``concurrency`` connections to the platform.
"""

import asyncio
import logging
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

from smsplatform.sandboxes.twilio import magic
from smsplatform.sandboxes.twilio.wire import new_sid, now

logger = logging.getLogger("twilio_sandbox")

FINAL = {"delivered", "undelivered", "failed", "canceled", "received"}
PRICE_PER_SEGMENT = 0.0079


class Deliveries:
    def __init__(self, sandbox):
        self.sandbox = sandbox

    @property
    def store(self):
        return self.sandbox.store

    def accepted(self, message: dict) -> None:
        self._later(message["sid"])

    def resume(self) -> None:
        """After a restart: carry on with every message still on its way."""
        for message in self.store.all("message"):
            if message["status"] not in FINAL:
                self._later(message["sid"])

    def _later(self, sid: str) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.sandbox.knobs.delivery_delay, self.advance, sid)

    def advance(self, sid: str) -> None:
        message = self.store.get("message", sid)
        if message is None or message["status"] in FINAL:
            return
        failure = magic.delivery_failure(message["to"])
        if message["status"] in ("queued", "accepted"):
            if failure and failure[0] == "failed":
                self._change(message, "failed", error_code=failure[1])
                return
            self._change(
                message,
                "sent",
                **{
                    "from": message["sender"],
                    "num_segments": message["segments"],
                    "date_sent": now(),
                },
            )
            self._later(sid)
        elif message["status"] == "sent":
            if failure:
                self._change(message, "undelivered", error_code=failure[1])
            else:
                price = -PRICE_PER_SEGMENT * message["segments"]
                self._change(message, "delivered", price=f"{price:.5f}")

    def _change(self, message: dict, status: str, **changes) -> None:
        error_code = changes.get("error_code")
        if error_code:
            changes["error_message"] = magic.DELIVERY_ERROR_MESSAGES.get(error_code)
        message = {**message, **changes, "status": status, "date_updated": now()}
        self.store.put("message", message)
        self.sandbox.stats[f"messages_{status}"] += 1
        if message["status_callback"]:
            self.sandbox.callbacks.enqueue(
                message["status_callback"], status_callback_params(message), message
            )

    def inbound(self, *, from_number: str, to: str, body: str, media_urls=()) -> dict:
        """A text from a phone to one of our numbers. Returns the message and where it goes."""
        number_sid = self.store.numbers_by_phone.get(to)
        number = self.store.get("number", number_sid) if number_sid else None
        if number is None:
            raise LookupError(f"{to} is not a number of any sandbox account")
        pool_entry = self.store.get("service_number", number["sid"])
        service = self.store.get("service", pool_entry["service_sid"]) if pool_entry else None
        if service and not service["use_inbound_webhook_on_number"]:
            url, method = service["inbound_request_url"], service["inbound_method"] or "POST"
        else:
            url, method = number["sms_url"], number["sms_method"] or "POST"
        timestamp = now()
        message = {
            "sid": new_sid("MM" if media_urls else "SM"),
            "account_sid": number["account_sid"],
            "to": to,
            "from": from_number,
            "sender": from_number,
            "body": body,
            "media_urls": list(media_urls),
            "num_segments": _segments(body),
            "segments": _segments(body),
            "direction": "inbound",
            "status": "received",
            "messaging_service_sid": service["sid"] if service else None,
            "status_callback": None,
            "validity_period": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "date_created": timestamp,
            "date_updated": timestamp,
            "date_sent": timestamp,
        }
        self.store.put("message", message)
        self.sandbox.stats["messages_received"] += 1
        opt_out_type = self._opt_out(message, scope=service["sid"] if service else to)
        params = inbound_params(message, opt_out_type)
        return {"message": message, "url": url, "method": method, "params": params}

    def _opt_out(self, message: dict, *, scope: str) -> str | None:
        keyword = message["body"].strip().upper()
        key = f"{scope}|{message['from']}"
        if not self.sandbox.knobs.default_opt_out:
            return None  # the account's app handles keywords; Twilio blocks nobody
        if keyword in magic.OPT_OUT_KEYWORDS:
            self.store.put("opt_out", {"sid": key, "date_created": now()})
            return "STOP"
        if keyword in magic.OPT_IN_KEYWORDS:
            self.store.delete("opt_out", key)
            return "START"
        if keyword in ("HELP", "INFO"):
            return "HELP"
        return None


def _segments(body: str) -> int:
    from smsplatform.sandboxes.twilio.api2010 import count_segments

    return count_segments(body)


def status_callback_params(message: dict) -> dict:
    params = {
        "MessageSid": message["sid"],
        "SmsSid": message["sid"],
        "MessageStatus": message["status"],
        "SmsStatus": message["status"],
        "AccountSid": message["account_sid"],
        "From": message["from"] or message["sender"],
        "To": message["to"],
        "ApiVersion": "2010-04-01",
    }
    if message["messaging_service_sid"]:
        params["MessagingServiceSid"] = message["messaging_service_sid"]
    if message["error_code"]:
        params["ErrorCode"] = str(message["error_code"])
    if message["status"] in ("delivered", "undelivered"):
        params["RawDlrDoneDate"] = datetime.now(UTC).strftime("%y%m%d%H%M")
    return params


def inbound_params(message: dict, opt_out_type: str | None) -> dict:
    params = {
        "MessageSid": message["sid"],
        "SmsSid": message["sid"],
        "SmsMessageSid": message["sid"],
        "AccountSid": message["account_sid"],
        "From": message["from"],
        "To": message["to"],
        "Body": message["body"],
        "NumMedia": str(len(message["media_urls"])),
        "NumSegments": str(message["num_segments"]),
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        "FromCountry": "US",
        "ToCountry": "US",
    }
    if message["messaging_service_sid"]:
        params["MessagingServiceSid"] = message["messaging_service_sid"]
    for index, url in enumerate(message["media_urls"]):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = "image/jpeg"
    if opt_out_type:
        params["OptOutType"] = opt_out_type
    return params


class CallbackSender:
    """Signed webhooks to the platform, ``concurrency`` at a time, in the order they arose."""

    def __init__(self, sandbox, *, concurrency: int, timeout: float = 15.0):
        self.sandbox = sandbox
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.queue: asyncio.Queue | None = None
        self.session: aiohttp.ClientSession | None = None
        self.workers: list[asyncio.Task] = []
        self.log: deque = deque(maxlen=2000)
        self.log_seq = 0

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency),
        )
        self.workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]

    async def stop(self) -> None:
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    @property
    def pending(self) -> int:
        return self.queue.qsize() if self.queue else 0

    def enqueue(self, url: str, params: dict, about: dict) -> None:
        self.queue.put_nowait((url, "POST", params, about["account_sid"], None))

    def enqueue_json(self, url: str, body: str, account_sid: str) -> None:
        """A JSON webhook (Event Streams): ``url`` already carries bodySHA256."""
        self.queue.put_nowait((url, "POST", {}, account_sid, body))

    async def _work(self) -> None:
        while True:
            url, method, params, account_sid, json_body = await self.queue.get()
            try:
                await self.send(url, method, params, account_sid, json_body=json_body)
            except Exception:
                logger.exception("twilio sandbox: callback to %s failed", url)
            finally:
                self.queue.task_done()

    async def send(
        self, url: str, method: str, params: dict, account_sid: str, *, json_body=None
    ) -> int | None:
        """Call ``url`` once (Twilio does not retry status callbacks); the HTTP status, or
        None when the platform could not be reached. A ``json_body`` is posted as is; its
        signature covers the URL only (which carries the body's hash)."""
        account = self.sandbox.store.get("account", account_sid)
        signature = RequestValidator(account["auth_token"]).compute_signature(
            url if method == "POST" else _with_query(url, params),
            params if method == "POST" and json_body is None else {},
        )
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
        }
        started = time.monotonic()
        status = None
        error = None
        try:
            if json_body is not None:
                headers["Content-Type"] = "application/json"
                request = self.session.post(url, data=json_body.encode(), headers=headers)
            elif method == "POST":
                # Encoded here: aiohttp's FormData machinery costs more than the whole request
                # at thousands of callbacks a second.
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                body = urlencode(params, doseq=True).encode()
                request = self.session.post(url, data=body, headers=headers)
            else:
                request = self.session.get(_with_query(url, params), headers=headers)
            async with request as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.sandbox.stats["callbacks_sent" if status and status < 400 else "callbacks_failed"] += 1
        self.log_seq += 1
        self.log.append(
            {
                "seq": self.log_seq,
                "url": url,
                "method": method,
                "params": params,
                "body": json_body,
                "signature": signature,
                "status": status,
                "error": error,
                "seconds": round(time.monotonic() - started, 4),
            }
        )
        return status


def _with_query(url: str, params: dict) -> str:
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"

"""What happens to a message after Twilio accepted it, and what Twilio calls back.

Outbound: queued (accepted with a Messaging Service) → sent → delivered, or → undelivered /
failed for the designated numbers of magic.DELIVERY_FAILURES, one status change every
``delivery_delay`` seconds. Each change after the first is POSTed to the message's
StatusCallback (or its service's), signed with the account's auth token as Twilio does.

Inbound: a text injected through /sandbox/inbound becomes a received message, POSTed (signed) to
the service's InboundRequestUrl or the number's SmsUrl. STOP-like replies block the sender
(later sends answer 21610) until START, as Twilio's default opt-out handling does.

Callbacks go out from a child process through a fixed number of workers: a burst of 100,000
messages never opens more than ``concurrency`` connections to the platform.
"""

import asyncio
import logging
import sys
from collections import deque
from datetime import UTC, datetime

import aiohttp

from smsplatform.sandboxes.twilio import callback_process, magic
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
    """Signed webhooks to the platform, ``concurrency`` at a time, in the order they arose.

    Queued callbacks go out from a child process (callback_process explains why); ``send``
    calls one at once from this process, for an answer the caller waits on (an inbound text's
    webhook). Both land in ``log``."""

    def __init__(self, sandbox, *, concurrency: int, timeout: float = 15.0):
        self.sandbox = sandbox
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.log: deque = deque(maxlen=2000)
        self.log_seq = 0
        self._waiting: dict[int, tuple] = {}  # job id -> (url, method, params, json_body)
        self._last_job = 0
        self._jobs = callback_process.FrameBatcher(self._write_jobs)
        self._results: asyncio.Task | None = None

    async def start(self) -> None:
        self.session = callback_process.new_session(concurrency=2, timeout=self.timeout)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            callback_process.__name__,
            "--concurrency",
            str(self.concurrency),
            "--timeout",
            str(self.timeout),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self._results = asyncio.create_task(self._read_results())

    async def stop(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._results is not None:
            self._results.cancel()
            await asyncio.gather(self._results, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    @property
    def pending(self) -> int:
        """Queued callbacks not yet answered."""
        return len(self._waiting)

    def enqueue(self, url: str, params: dict, about: dict) -> None:
        self._submit(url, "POST", params, about["account_sid"], None)

    def enqueue_json(self, url: str, body: str, account_sid: str) -> None:
        """A JSON webhook (Event Streams): ``url`` already carries bodySHA256."""
        self._submit(url, "POST", {}, account_sid, body)

    def _submit(self, url, method, params, account_sid, json_body) -> None:
        self._last_job += 1
        self._waiting[self._last_job] = (url, method, params, json_body)
        token = self._auth_token(account_sid)
        self._jobs.add([self._last_job, url, method, params, token, json_body])

    def _write_jobs(self, batch: bytes) -> None:
        if not self.process.stdin.is_closing():  # stopping: unsent callbacks are dropped
            self.process.stdin.write(batch)

    async def _read_results(self) -> None:
        while (result := await callback_process.read_frame(self.process.stdout)) is not None:
            job_id, *outcome = result
            url, method, params, json_body = self._waiting.pop(job_id)
            self._record(url, method, params, json_body, callback_process.Outcome(*outcome))
        if self._waiting:
            logger.error(
                "twilio sandbox: the callback process ended with %s callbacks unsent",
                len(self._waiting),
            )

    async def send(
        self, url: str, method: str, params: dict, account_sid: str, *, json_body=None
    ) -> int | None:
        """Call ``url`` once, now; the HTTP status, or None when the platform could not be
        reached."""
        outcome = await callback_process.post_signed(
            self.session,
            url,
            method,
            params,
            self._auth_token(account_sid),
            json_body=json_body,
        )
        self._record(url, method, params, json_body, outcome)
        return outcome.status

    def _auth_token(self, account_sid: str) -> str:
        return self.sandbox.store.get("account", account_sid)["auth_token"]

    def _record(self, url, method, params, json_body, outcome) -> None:
        sent = outcome.status and outcome.status < 400
        self.sandbox.stats["callbacks_sent" if sent else "callbacks_failed"] += 1
        self.log_seq += 1
        self.log.append(
            {
                "seq": self.log_seq,
                "url": url,
                "method": method,
                "params": params,
                "body": json_body,
                "signature": outcome.signature,
                "status": outcome.status,
                "error": outcome.error,
                "seconds": outcome.seconds,
            }
        )

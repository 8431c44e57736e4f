"""The sandbox's queued callbacks go out from a process of their own.

Twilio answers its API without waiting on the webhooks it sends. One event loop doing both would
wait: a campaign at 450 messages/s makes 900 signed status callbacks a second. Measured in the
campaign bench (40,000 recipients) with both in one loop:
- the API's 100 ms wait ended 3.4 ms late on average;
- a request took 3.1 ms more from the wire to its handler.
Those milliseconds were the sandbox's own, not Twilio's. So the sandbox hands each queued
callback (status, TrustHub review, Event Streams) to this child over a pipe. The child signs and
posts it, ``concurrency`` at a time, in the order they came, and sends back what happened.
With the worker's round-trip pacing, 100,000-recipient runs went from 449 messages/s (one run,
callbacks in the API's loop) to 446-459/s (six runs).

Both ends speak frames: a 4-byte length, then a JSON array. Run as
``python -m smsplatform.sandboxes.twilio.callback_process``: jobs on stdin, results on stdout,
logs on stderr.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import struct
import sys
import time
import uuid
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlencode

import aiohttp
import uvloop
from twilio.request_validator import RequestValidator

logger = logging.getLogger("twilio_sandbox")

_FRAME = struct.Struct("!I")

# Frames cross the pipe in batches, one write every BATCH_SECONDS at most in each direction: a
# write per callback would wake the other process 900 times a second, the API's loop included.
BATCH_SECONDS = 0.02


def frame(items: list) -> bytes:
    payload = json.dumps(items, separators=(",", ":")).encode()
    return _FRAME.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> list | None:
    """The next frame's items, or None once the other end has closed the pipe."""
    try:
        header = await reader.readexactly(_FRAME.size)
        return json.loads(await reader.readexactly(_FRAME.unpack(header)[0]))
    except asyncio.IncompleteReadError:
        return None


class FrameBatcher:
    """Collects frames and hands them to ``write`` together, BATCH_SECONDS after the first."""

    def __init__(self, write: Callable[[bytes], None]):
        self._write = write
        self._frames: list[bytes] = []

    def add(self, items: list) -> None:
        if not self._frames:
            asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)
        self._frames.append(frame(items))

    def flush(self) -> None:
        if self._frames:
            batch = b"".join(self._frames)
            self._frames.clear()
            self._write(batch)


class Outcome(NamedTuple):
    signature: str
    status: int | None  # the HTTP status; None when the platform could not be reached
    error: str | None
    seconds: float


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    method: str,
    params: dict,
    auth_token: str,
    *,
    json_body: str | None = None,
) -> Outcome:
    """Call ``url`` once, signed with ``auth_token`` as Twilio signs (Twilio does not retry
    status callbacks). A ``json_body`` is posted as is; its signature covers the URL only (which
    carries the body's hash)."""
    signature = RequestValidator(auth_token).compute_signature(
        url if method == "POST" else with_query(url, params),
        params if method == "POST" and json_body is None else {},
    )
    headers = {
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "User-Agent": "TwilioProxy/1.1",
    }
    started = time.monotonic()
    status = error = None
    try:
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            request = session.post(url, data=json_body.encode(), headers=headers)
        elif method == "POST":
            # Encoded here: aiohttp's FormData machinery costs more than the whole request at
            # thousands of callbacks a second.
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(params, doseq=True).encode()
            request = session.post(url, data=body, headers=headers)
        else:
            request = session.get(with_query(url, params), headers=headers)
        async with request as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Outcome(signature, status, error, round(time.monotonic() - started, 4))


def with_query(url: str, params: dict) -> str:
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def new_session(*, concurrency: int, timeout: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=aiohttp.TCPConnector(limit=concurrency),
    )


async def serve(jobs_in, results_out, *, concurrency: int, timeout: float) -> None:
    """Send every job read from ``jobs_in`` and write its (id, Outcome) to ``results_out``,
    until ``jobs_in`` closes; callbacks not yet sent then are dropped, as when the sandbox
    stopped with them queued."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), jobs_in)
    results, _ = await loop.connect_write_pipe(asyncio.Protocol, results_out)
    answered = FrameBatcher(results.write)
    queue: asyncio.Queue = asyncio.Queue()

    async def work(session):
        while True:
            job_id, url, method, params, auth_token, json_body = await queue.get()
            try:
                outcome = await post_signed(
                    session, url, method, params, auth_token, json_body=json_body
                )
            except Exception as exc:  # a bug or a malformed URL: reported, never lost
                logger.exception("twilio sandbox: callback to %s failed", url)
                outcome = Outcome("", None, f"{type(exc).__name__}: {exc}", 0.0)
            answered.add([job_id, *outcome])

    async with new_session(concurrency=concurrency, timeout=timeout) as session:
        workers = [asyncio.create_task(work(session)) for _ in range(concurrency)]
        while (job := await read_frame(reader)) is not None:
            queue.put_nowait(job)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    answered.flush()
    results.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=15.0)
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s twilio-sandbox %(message)s")
    # Ctrl-C reaches the whole process group: the sandbox stops this child by closing its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Results get stdout's pipe to themselves: a stray print() must not corrupt a frame.
    results_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    jobs_in = os.fdopen(sys.stdin.fileno(), "rb", buffering=0)
    uvloop.run(
        serve(jobs_in, results_out, concurrency=options.concurrency, timeout=options.timeout)
    )


if __name__ == "__main__":
    main()

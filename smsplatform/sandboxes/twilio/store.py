"""The sandbox's state: every resource as a plain dict, in memory, with an append-only log on
disk so that a restarted sandbox (``make run``) finds what it had.

The log is one JSON line per write ([kind, record]); the last write of a record wins. It is
replayed and compacted at start. Writes are buffered and flushed every second and on exit, so
persisting costs no fsync per request.
"""

import json
import logging
from collections import Counter, defaultdict
from pathlib import Path

logger = logging.getLogger(__name__)

KINDS = (
    "account",
    "message",
    "address",
    "number",  # incoming phone numbers (PN)
    "service",  # messaging services (MG)
    "service_number",  # a number in a service's sender pool
    "brand",
    "campaign",
    "bundle",  # customer profiles and trust products (BU)
    "end_user",
    "document",
    "assignment",
    "evaluation",
    "opt_out",  # (sender, recipient) pairs blocked by a STOP
    "sink",  # Event Streams sinks (DG)
    "subscription",  # Event Streams subscriptions (DF)
)


class Store:
    def __init__(self, state_dir: Path | None):
        self.records: dict[str, dict[str, dict]] = {kind: {} for kind in KINDS}
        self.messages_by_account: dict[str, list[str]] = defaultdict(list)
        self.numbers_by_phone: dict[str, str] = {}
        self.outbound_by_to: Counter = Counter()
        self._log_path = state_dir / "state.jsonl" if state_dir else None
        self._log = None
        if self._log_path is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
            self._replay()
            self._log = self._log_path.open("a", encoding="utf-8")

    # --- reading ---------------------------------------------------------------------------

    def get(self, kind: str, sid: str) -> dict | None:
        return self.records[kind].get(sid)

    def all(self, kind: str) -> list[dict]:
        return list(self.records[kind].values())

    def where(self, kind: str, **equal) -> list[dict]:
        return [
            record
            for record in self.records[kind].values()
            if all(record.get(key) == value for key, value in equal.items())
        ]

    # --- writing ---------------------------------------------------------------------------

    def put(self, kind: str, record: dict) -> dict:
        table = self.records[kind]
        is_new = record["sid"] not in table
        table[record["sid"]] = record
        self._index(kind, record, is_new)
        if self._log is not None:
            self._log.write(json.dumps([kind, record], separators=(",", ":")) + "\n")
        return record

    def delete(self, kind: str, sid: str) -> None:
        record = self.records[kind].pop(sid, None)
        if record is not None and self._log is not None:
            self._log.write(json.dumps([kind, {"sid": sid, "_deleted": True}]) + "\n")

    def _index(self, kind, record, is_new):
        if kind == "message" and is_new:
            self.messages_by_account[record["account_sid"]].append(record["sid"])
            if record["direction"] != "inbound":
                self.outbound_by_to[record["to"]] += 1
        elif kind == "number":
            self.numbers_by_phone[record["phone_number"]] = record["sid"]

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()

    def close(self) -> None:
        if self._log is not None:
            self._log.flush()
            self._log.close()
            self._log = None

    def _replay(self) -> None:
        if not self._log_path.exists():
            return
        lines = 0
        with self._log_path.open(encoding="utf-8") as log:
            for line in log:
                lines += 1
                try:
                    kind, record = json.loads(line)
                except ValueError:
                    logger.warning("twilio sandbox: skipping a damaged state line")
                    continue
                if record.get("_deleted"):
                    self.records[kind].pop(record["sid"], None)
                    continue
                is_new = record["sid"] not in self.records[kind]
                self.records[kind][record["sid"]] = record
                self._index(kind, record, is_new)
        kept = sum(len(table) for table in self.records.values())
        if lines > kept:  # compact: one line per live record
            temporary = self._log_path.with_suffix(".tmp")
            with temporary.open("w", encoding="utf-8") as out:
                for kind, table in self.records.items():
                    for record in table.values():
                        out.write(json.dumps([kind, record], separators=(",", ":")) + "\n")
            temporary.replace(self._log_path)
        logger.info("twilio sandbox: %s records restored from %s", kept, self._log_path)

"""The reading half of an import, run in a thread of its own so that Python cleans the next
rows while PostgreSQL merges the last ones: the file's rows become chunks of COPY payloads."""

import csv
import io
import operator
import queue
import threading
from dataclasses import dataclass

from messaging.importing import merge
from messaging.importing.files import Table
from messaging.importing.rows import Rejection, RowCleaner
from smsplatform.providers.low_latency import short_switch_interval


def data_rows(job, table: Table):
    """The rows under the header (all of them when the file has none)."""
    rows = table.rows()
    if job.has_header:
        next(rows, None)
    yield from rows


@dataclass
class Chunk:
    """Clean rows and rejections of a stretch of the file, as COPY payloads."""

    rows: bytes
    rejections: bytes
    row_count: int
    rejection_count: int
    lines_read: int
    progress: float | None


_PHONE = operator.itemgetter(merge.STAGING_COLUMNS.index("phone"))


def produce_chunks(job, table: Table, cleaner: RowCleaner, size: int):
    """Read and clean the file, yielding Chunks. Touches no database: runs in its own thread."""
    job_id = str(job.pk)
    rows_buffer, rejections_buffer = io.StringIO(), io.StringIO()
    rows_out = csv.writer(rows_buffer, quoting=csv.QUOTE_ALL)
    rejections_out = csv.writer(rejections_buffer, quoting=csv.QUOTE_ALL)
    clean_rows = []
    rejection_count = 0

    def flush():
        # In phone order: PostgreSQL then looks up and inserts the chunk's numbers (the contacts'
        # phone index, the consent events' phone index) leaf page after leaf page, not at random
        # across indexes that outgrow its buffers. 15% of the merge at 600,000 contacts.
        clean_rows.sort(key=_PHONE)
        rows_out.writerows(clean_rows)
        chunk = Chunk(
            rows_buffer.getvalue().encode(),
            rejections_buffer.getvalue().encode(),
            len(clean_rows),
            rejection_count,
            len(clean_rows) + rejection_count,
            table.progress(),
        )
        for buffer in (rows_buffer, rejections_buffer):
            buffer.seek(0)
            buffer.truncate()
        clean_rows.clear()
        return chunk

    clean = cleaner.clean
    # PostgreSQL has nothing to do until the first chunk is ready: a small one gets it started
    # while the reader cleans the rest (a full chunk took about a second to clean).
    limit = max(1, size // 10)
    for line, cells in data_rows(job, table):
        result = clean(line, cells)
        if isinstance(result, Rejection):
            rejections_out.writerow(
                (job_id, result.line, result.raw_phone, result.reason, result.detail[:255])
            )
            rejection_count += 1
        else:
            clean_rows.append(result.staging_values())
        if len(clean_rows) + rejection_count == limit:
            yield flush()
            rejection_count = 0
            limit = size
    yield flush()


def in_background(iterator, *, buffered: int = 2):
    """Yield the items of ``iterator``, computed ahead in another thread, so that the caller's
    own work (here: waiting on PostgreSQL) overlaps with producing them. An exception in the
    thread is raised here; closing this generator stops the thread."""
    items = queue.Queue(maxsize=buffered)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for item in iterator:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name="import-reader", daemon=True)
    # The caller mostly waits on the database; when an answer comes back it must get the GIL
    # from the busy reader thread at once, not after the default 5 ms (a COPY waits many times).
    with short_switch_interval():
        thread.start()
        try:
            while True:
                kind, value = items.get()
                if kind == "item":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()
            thread.join(timeout=30)

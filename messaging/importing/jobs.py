"""An import from upload to report: the only code that creates, starts and runs import jobs
(views, the Celery task and the import_contacts command all call it).

Running an import reads and cleans the file in one thread while the database merges the rows
already cleaned, chunk by chunk, in a single transaction: the two halves overlap (Python parses
while PostgreSQL merges), and a failure anywhere rolls everything back. Progress goes to the
cache, outside that transaction, for the page's progress bar.
"""

import datetime as dt
import io
import logging
import os
import time
import uuid
from contextlib import closing
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from messaging.importing import merge
from messaging.importing.columns import PHONE, suggest_mapping, validate_mapping
from messaging.importing.errors import ImportFileError, ImportSetupError
from messaging.importing.files import FileLayout, Table, inspect_file
from messaging.importing.pipeline import data_rows, in_background, produce_chunks
from messaging.importing.rows import (
    Rejection,
    RowCleaner,
    forget_parsed_phones,
    looks_like_phone,
)
from messaging.models import Contact, CustomField, ImportJob, ImportRejection, Tag
from messaging.services import normalize_tags, opted_out_phones

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 20
PREVIEW_ROWS = 10
PROGRESS_TIMEOUT = 24 * 3600
ANALYZE_AFTER_ROWS = 10_000
UPLOAD_ROOT = "imports"
EXPIRED = "The uploaded file is no longer here (uploads are kept for a day). Upload it again."
EXTENSIONS = {ImportJob.Format.CSV: ".csv", ImportJob.Format.XLSX: ".xlsx"}


def chunk_rows() -> int:
    return settings.IMPORT_CHUNK_ROWS


# --- upload -----------------------------------------------------------------------------------


def create_import(upload, *, file_name: str, actor=None) -> ImportJob:
    """Check an uploaded file (any binary file object), store it for this organization only and
    return its job, with a suggested column mapping. Raises ImportFileError."""
    size = upload.size if hasattr(upload, "size") else _stream_size(upload)
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size > limit:
        raise ImportFileError(
            f"This file is {file_size_text(size)}; the limit is {file_size_text(limit)}. "
            "Split it into smaller files.",
            code="too_large",
        )
    stream = upload.file if hasattr(upload, "file") and upload.file is not None else upload
    layout = inspect_file(stream)
    columns, has_header, sample = read_header(Table(stream, layout))
    custom_fields = list(CustomField.objects.all())
    region = connection.tenant.country
    mapping = suggest_mapping(
        columns, sample, custom_fields, lambda text: looks_like_phone(text, region)
    )
    job = ImportJob(
        file_name=os.path.basename(file_name)[:255] or "contacts",
        file_size=size,
        file_format=layout.file_format,
        encoding=layout.encoding,
        delimiter=layout.delimiter,
        has_header=has_header,
        columns=columns,
        mapping=mapping,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    stream.seek(0)
    # Uploads live under the organization's schema name and are never served: only this
    # organization's job row knows the name.
    name = f"{UPLOAD_ROOT}/{connection.schema_name}/{job.pk}{EXTENSIONS[layout.file_format]}"
    job.stored_file = default_storage.save(name, File(stream, name=name))
    job.save()
    return job


def file_size_text(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB" if size >= 1_000_000 else f"{size / 1000:,.0f} kB"


def create_import_from_path(path, *, actor=None) -> ImportJob:
    """For operators (the import_contacts command): the same checks as an upload."""
    with open(path, "rb") as stream:
        return create_import(stream, file_name=os.path.basename(path), actor=actor)


def _stream_size(stream) -> int:
    position = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return size


def read_header(table: Table):
    """(column names, whether the first row is a header, sample rows). A first row holding a
    phone number is data, not a header: the columns are then named "Column 1", ..."""
    region = connection.tenant.country
    sample = []
    with closing(table.rows()) as rows:
        for _, cells in rows:
            sample.append([cell.strip() for cell in cells])
            if len(sample) > SAMPLE_ROWS:
                break
    if not sample:
        raise ImportFileError("The file has no rows.", code="empty")
    width = max(len(row) for row in sample)
    first = sample[0]
    has_header = not any(looks_like_phone(cell, region) for cell in first)
    if has_header:
        columns = [cell or f"Column {i + 1}" for i, cell in enumerate(first)]
        columns += [f"Column {i + 1}" for i in range(len(first), width)]
        sample = sample[1:]
        if not sample:
            raise ImportFileError(
                "The file has a header row but no contacts under it.", code="empty"
            )
    else:
        columns = [f"Column {i + 1}" for i in range(width)]
    return [column[:100] for column in columns], has_header, sample


def open_table(job: ImportJob):
    if not job.stored_file or not default_storage.exists(job.stored_file):
        raise ImportFileError(EXPIRED, code="expired")
    stream = default_storage.open(job.stored_file, "rb")
    return stream, Table(stream, FileLayout(job.file_format, job.encoding, job.delimiter))


def delete_upload(job: ImportJob):
    if job.stored_file:
        default_storage.delete(job.stored_file)
        ImportJob.objects.filter(pk=job.pk).update(stored_file="")
        job.stored_file = ""


# --- preview and start ------------------------------------------------------------------------


@dataclass
class PreviewRow:
    line: int
    raw_phone: str  # as written in the file
    contact: object  # CleanRow, or None when rejected
    problems: list
    outcome: str  # "new", "update" or "rejected"


def _cleaner(job: ImportJob, mapping, tags=()):
    types = dict(CustomField.objects.values_list("key", "type"))
    return RowCleaner(mapping, types, connection.tenant.country, tags)


def preview(job: ImportJob, mapping, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows as the import would take them, with each row's problems."""
    cleaner = _cleaner(job, mapping, job.tags)
    stream, table = open_table(job)
    results = []
    with stream, closing(data_rows(job, table)) as rows:
        for line, cells in rows:
            results.append(cleaner.clean(line, cells))
            if len(results) >= limit:
                break
    phones = [r.phone for r in results if not isinstance(r, Rejection)]
    existing = set(Contact.objects.filter(phone__in=phones).values_list("phone", flat=True))
    opted_out = opted_out_phones(phones)
    rows = []
    for result in results:
        if isinstance(result, Rejection):
            rows.append(
                PreviewRow(result.line, result.raw_phone, None, [result.message], "rejected")
            )
        elif result.phone in opted_out:
            label = ImportRejection.Reason.OPTED_OUT.label
            rows.append(PreviewRow(result.line, result.raw_phone, result, [label], "rejected"))
        else:
            outcome = "update" if result.phone in existing else "new"
            rows.append(PreviewRow(result.line, result.raw_phone, result, result.notes, outcome))
    return rows


def start_import(
    job: ImportJob,
    *,
    mapping,
    consent_wording: str,
    contact_list=None,
    tags=(),
    enqueue: bool = True,
) -> ImportJob:
    """Record the person's choices and declaration, and queue the import for a worker (once:
    starting a job twice does nothing the second time). With ``enqueue=False`` the caller runs
    it (run_import)."""
    from messaging.tasks import run_contact_import

    custom_fields = list(CustomField.objects.all())
    mapping = validate_mapping(mapping, job.columns, custom_fields)
    wording = " ".join((consent_wording or "").split())
    if len(wording) < 10:
        raise ImportSetupError(
            "Declare how these people agreed to receive your marketing texts.", field="consent"
        )
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.UPLOADED:
            return locked
        if not locked.stored_file or not default_storage.exists(locked.stored_file):
            raise ImportFileError(EXPIRED, code="expired")
        locked.mapping = mapping
        locked.consent_wording = wording
        locked.contact_list = contact_list
        locked.tags = normalize_tags(tags)
        locked.status = ImportJob.Status.QUEUED
        locked.started_at = timezone.now()
        locked.save()
        set_progress(locked, 0, 0, "waiting")
        if enqueue:
            transaction.on_commit(lambda: run_contact_import.delay(str(locked.pk)))
    return locked


# --- progress ---------------------------------------------------------------------------------


def _progress_key(job_id) -> str:
    return f"import-progress:{job_id}"


def set_progress(job, percent: float, rows: int, phase: str):
    cache.set(
        _progress_key(job.pk),
        {"percent": round(percent, 1), "rows": rows, "phase": phase},
        PROGRESS_TIMEOUT,
    )


def get_progress(job) -> dict:
    if job.status == ImportJob.Status.DONE:
        return {"percent": 100, "rows": job.rows_total, "phase": "done"}
    return cache.get(_progress_key(job.pk)) or {"percent": 0, "rows": 0, "phase": "waiting"}


# --- running ----------------------------------------------------------------------------------


def run_import(job_id) -> ImportJob | None:
    """Import a queued job's file, all or nothing. Safe to run twice, or twice at once: the
    job row is locked for the whole import, and only a queued job is run. Returns the job, or
    None when there was nothing to do."""
    started = time.monotonic()
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id, status=ImportJob.Status.QUEUED)
            .first()
        )
        if job is None:
            return None
        set_progress(job, 0, 0, "reading")
        try:
            with transaction.atomic():
                _import_rows(job)
        except ImportFileError as exc:
            _fail(job, exc.message)
        except Exception:
            reference = uuid.uuid4().hex[:8]
            logger.exception("Import %s failed (reference %s)", job.pk, reference)
            _fail(
                job,
                "The import stopped because of an unexpected error, so nothing was imported. "
                f"Try again; if it happens again, contact support (reference {reference}).",
            )
        job.save()
        transaction.on_commit(lambda: delete_upload(job))
    logger.info("Import %s %s after %.1f s", job.pk, job.status, time.monotonic() - started)
    return job


def _fail(job, message):
    job.status = ImportJob.Status.FAILED
    job.error = message
    job.created_count = job.updated_count = job.skipped_count = job.rejected_count = 0
    job.rows_total = 0
    job.finished_at = timezone.now()


def _import_rows(job: ImportJob):
    cleaner = _cleaner(job, job.mapping, job.tags)
    stream, table = open_table(job)
    counts = merge.MergeCounts()
    rejected = rows = 0
    # Where the time goes, for the log: waiting for the reader thread vs. in the database.
    waited = in_database = 0.0
    analyzed = False
    with stream:
        merge.create_staging()
        chunks = in_background(produce_chunks(job, table, cleaner, chunk_rows()))
        try:
            clock = time.monotonic()
            for chunk in chunks:
                now = time.monotonic()
                waited += now - clock
                merge.store_rejections(job.pk, chunk.rejections)
                if chunk.row_count:
                    counts.add(merge.merge_chunk(job, chunk.rows))
                    if not analyzed:
                        merge.refresh_statistics()
                        analyzed = True
                clock = time.monotonic()
                in_database += clock - now
                rejected += chunk.rejection_count
                rows += chunk.lines_read
                share = chunk.progress if chunk.progress is not None else 0.5
                set_progress(job, 98 * share, rows, "importing")
        finally:
            chunks.close()
            # The numbers' caches served this file (tens of MB for a large one): not kept.
            forget_parsed_phones()
    logger.info(
        "Import %s: %s rows; %.1f s waiting for the reader, %.1f s in the database",
        job.pk,
        rows,
        waited,
        in_database,
    )
    if PHONE not in job.mapping:  # validate_mapping guarantees it; a corrupted row must not run
        raise ImportFileError("The import has no phone column.", code="mapping")
    Tag.objects.bulk_create(
        [Tag(name=name) for name in sorted(cleaner.tags_seen)], ignore_conflicts=True
    )
    merge.drop_staging()
    if counts.created + counts.updated > ANALYZE_AFTER_ROWS:
        merge.refresh_statistics()
    job.status = ImportJob.Status.DONE
    job.rows_total = rows
    job.created_count = counts.created
    job.updated_count = counts.updated
    job.skipped_count = counts.skipped
    job.rejected_count = rejected + counts.opted_out
    job.finished_at = timezone.now()
    job.error = ""
    set_progress(job, 100, rows, "done")


# --- report -----------------------------------------------------------------------------------


def write_rejections_csv(job: ImportJob, stream):
    """Every rejected row, formula-safe, for the person to fix and import again."""
    from messaging.spreadsheets import SafeWriter

    writer = SafeWriter(stream)
    writer.writerow(["line", "phone_in_file", "reason", "detail"])
    rejections = ImportRejection.objects.filter(job=job).order_by("line")
    for rejection in rejections.iterator(chunk_size=5000):
        writer.writerow(
            [rejection.line, rejection.phone, rejection.get_reason_display(), rejection.detail]
        )


def delete_stale_uploads(max_age=dt.timedelta(days=1)) -> int:
    """Delete uploads older than ``max_age`` in every organization's folder. A running import
    holds its file open and reads it within minutes, so age alone is safe."""
    deleted = 0
    cutoff = timezone.now() - max_age
    try:
        folders, _ = default_storage.listdir(UPLOAD_ROOT)
    except FileNotFoundError:
        return 0
    for folder in folders:
        _, names = default_storage.listdir(f"{UPLOAD_ROOT}/{folder}")
        for name in names:
            path = f"{UPLOAD_ROOT}/{folder}/{name}"
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                deleted += 1
    return deleted


def sample_values(job: ImportJob, rows: int = 3) -> list[list[str]]:
    """The first few values of each column, as written in the file (for the mapping form)."""
    stream, table = open_table(job)
    samples = [[] for _ in job.columns]
    with stream, closing(data_rows(job, table)) as data:
        for count, (_, cells) in enumerate(data, start=1):
            for index, values in enumerate(samples):
                value = cells[index].strip() if index < len(cells) else ""
                if value:
                    values.append(value[:60])
            if count >= rows:
                break
    return samples

"""Contact import pages: upload → column mapping and preview → consent → progress → report."""

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from messaging.exporting import csv_stream
from messaging.importing import jobs
from messaging.importing.errors import ImportFileError, ImportSetupError
from messaging.importing.forms import ColumnMappingForm, ImportConsentForm, ImportUploadForm
from messaging.models import ContactList, CustomField, ImportJob, ImportRejection
from organizations.permissions import require_permission

REJECTIONS_SHOWN = 200
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}


class UploadLimit(FileUploadHandler):
    """Stops reading an upload past IMPORT_MAX_UPLOAD_BYTES: the rest of the request is read
    and thrown away (so the page can say why), never stored."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.IMPORT_MAX_UPLOAD_BYTES
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def _too_large_message():
    return (
        f"This file is larger than {jobs.file_size_text(settings.IMPORT_MAX_UPLOAD_BYTES)}. "
        "Split it into smaller files, or remove columns you don't need."
    )


@csrf_exempt  # checked by _upload, once the size limit is in place (see UploadLimit)
@require_permission("contacts.import")
def import_start(request):
    limit = UploadLimit(request)
    request.upload_handlers.insert(0, limit)
    return _upload(request, limit)


@csrf_protect
def _upload(request, limit: UploadLimit):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if limit.exceeded:
            form = ImportUploadForm(data={})
            form.full_clean()
            form.errors["file"] = form.error_class([_too_large_message()])
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = jobs.create_import(upload, file_name=upload.name, actor=request.user)
            except ImportFileError as exc:
                form.add_error("file", exc.message)
            else:
                return redirect("import_detail", pk=job.pk)
    return render(
        request,
        "messaging/imports/upload.html",
        {
            "form": form,
            "imports": ImportJob.objects.all()[:10],
            "max_size": jobs.file_size_text(settings.IMPORT_MAX_UPLOAD_BYTES),
        },
        status=400 if form.errors else 200,
    )


@require_permission("contacts.import")
def import_detail(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    if job.status == ImportJob.Status.UPLOADED:
        return _setup(request, job)
    if job.status == ImportJob.Status.QUEUED:
        return render(request, "messaging/imports/progress.html", {"job": job})
    return _report(request, job)


def _setup(request, job):
    custom_fields = list(CustomField.objects.all())
    posted = request.POST if request.method == "POST" else None
    mapping_form = ColumnMappingForm(
        posted, columns=job.columns, mapping=job.mapping, custom_fields=custom_fields
    )
    consent_form = ImportConsentForm(
        posted if posted and "import" in posted else None,
        business_name=request.tenant.name,
    )
    mapping = job.mapping
    if posted is not None and mapping_form.is_valid():
        mapping = mapping_form.mapping
        if "import" in posted and consent_form.is_valid():
            try:
                _start(request, job, mapping, consent_form)
            except ImportSetupError as exc:
                consent_form.add_error(None, exc.message)
            except ImportFileError as exc:
                messages.error(request, exc.message)
                return redirect("import_start")
            else:
                return redirect("import_detail", pk=job.pk)
    try:
        preview = jobs.preview(job, mapping)
        samples = jobs.sample_values(job)
    except ImportFileError as exc:
        messages.error(request, exc.message)
        return redirect("import_start")
    errors = mapping_form.errors or consent_form.errors
    return render(
        request,
        "messaging/imports/setup.html",
        {
            "job": job,
            "mapping_form": mapping_form,
            "consent_form": consent_form,
            "columns": list(zip(mapping_form.column_fields(), samples, strict=True)),
            "preview": preview,
            "custom_fields": [f for f in custom_fields if f"custom:{f.key}" in mapping],
            "delimiter_name": DELIMITER_NAMES.get(job.delimiter, ""),
            "encoding_name": ENCODING_NAMES.get(job.encoding, job.encoding),
        },
        status=400 if errors else 200,
    )


def _start(request, job, mapping, consent_form):
    data = consent_form.cleaned_data
    with transaction.atomic():
        contact_list = data["contact_list"]
        if data["new_list"].strip():
            contact_list, _ = ContactList.objects.get_or_create(name=data["new_list"].strip())
        jobs.start_import(
            job,
            mapping=mapping,
            consent_wording=consent_form.wording,
            contact_list=contact_list,
            tags=consent_form.tag_names,
        )


def _report(request, job):
    rejections = job.rejections.all()[:REJECTIONS_SHOWN]
    return render(
        request,
        "messaging/imports/report.html",
        {"job": job, "rejections": rejections, "shown": REJECTIONS_SHOWN},
    )


@require_permission("contacts.import")
def import_progress(request, pk):
    """Polled by the progress page: where the import is, from the cache (the import's own
    transaction shows nothing until it commits) and the job's status."""
    job = get_object_or_404(ImportJob, pk=pk)
    progress = jobs.get_progress(job)
    if job.status == ImportJob.Status.DONE:
        message = f"Done: {job.rows_total:,} rows."
    elif job.status == ImportJob.Status.FAILED:
        message = job.error
    elif progress["phase"] == "waiting":
        message = "Waiting to start…"
    else:
        message = f"Importing… {progress['rows']:,} rows read."
    return JsonResponse(
        {
            "status": job.status,
            "finished": job.is_finished,
            "percent": progress["percent"],
            "rows": progress["rows"],
            "message": message,
            "report_url": reverse("import_detail", args=[job.pk]),
        }
    )


@require_permission("contacts.import")
def import_rejections_csv(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    rejections = (
        ImportRejection.objects.filter(job=job)
        .order_by("line")
        .values_list("line", "phone", "reason", "detail")
    )
    labels = dict(ImportRejection.Reason.choices)
    rows = (
        (line, phone, labels.get(reason, reason), detail)
        for line, phone, reason, detail in rejections.iterator(chunk_size=5000)
    )
    response = StreamingHttpResponse(
        csv_stream(["line", "phone_in_file", "reason", "detail"], rows),
        content_type="text/csv; charset=utf-8",
    )
    stem = job.file_name.rsplit(".", 1)[0][:80] or "import"
    response["Content-Disposition"] = f'attachment; filename="rejected-{_safe_name(stem)}.csv"'
    return response


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)

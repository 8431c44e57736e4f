"""Contact import through the domain functions: files as people really have them, what an import
may and may not change, and all or nothing."""

import datetime as dt
import io
import random

import openpyxl
import phonenumbers
import pytest
from django.core.files.storage import default_storage

from messaging import phones, services
from messaging.importing import jobs, merge
from messaging.importing.columns import suggest_mapping, validate_mapping
from messaging.importing.errors import ImportFileError, ImportSetupError
from messaging.importing.rows import looks_like_phone
from messaging.models import (
    ConsentEvent,
    Contact,
    ContactList,
    CustomField,
    ImportJob,
    ImportRejection,
    Tag,
)

CONSENT = "Everyone in this file signed up at the till for our marketing texts."
Reason = ImportRejection.Reason


def upload(content: bytes, name="contacts.csv") -> ImportJob:
    return jobs.create_import(io.BytesIO(content), file_name=name)


def run(job: ImportJob, *, mapping=None, contact_list=None, tags=()) -> ImportJob:
    jobs.start_import(
        job,
        mapping=mapping or job.mapping,
        consent_wording=CONSENT,
        contact_list=contact_list,
        tags=tags,
        enqueue=False,
    )
    jobs.run_import(job.pk)
    job.refresh_from_db()
    return job


def import_bytes(content: bytes, name="contacts.csv", **options) -> ImportJob:
    return run(upload(content, name), **options)


def import_text(text: str, encoding="utf-8", **options) -> ImportJob:
    return import_bytes(text.encode(encoding), **options)


def contacts_by_phone():
    return {contact.phone: contact for contact in Contact.objects.all()}


def rejections(job):
    return [(r.line, r.reason) for r in job.rejections.order_by("line")]


# --- files as people have them ----------------------------------------------------------------


def test_utf8_with_bom_crlf_and_semicolons(in_acme):
    text = "\ufeffPhone;First name;Last name\r\n(305) 555-0101;Zoë;Müller\r\n305 555 0102;Ben;\r\n"
    job = import_text(text)
    assert (job.encoding, job.delimiter, job.columns) == (
        "utf-8-sig",
        ";",
        ["Phone", "First name", "Last name"],
    )
    contacts = contacts_by_phone()
    assert contacts["+13055550101"].first_name == "Zoë"
    assert contacts["+13055550101"].last_name == "Müller"
    assert (job.created_count, job.rejected_count) == (2, 0)


def test_windows_1252_file_keeps_its_accents(in_acme):
    # What Excel's "CSV" writes on Windows: accents and the euro sign in cp1252 bytes.
    text = "Phone,First name,Notes\r\n3055550103,José,Owes 5 €\r\n3055550104,Renée,\r\n"
    job = import_bytes(text.encode("cp1252"))
    assert job.encoding == "cp1252"
    assert {c.first_name for c in Contact.objects.all()} == {"José", "Renée"}


def test_latin1_bytes_that_windows_1252_leaves_undefined(in_acme):
    job = import_bytes(b"phone,first_name,notes\n3055550105,Ren\xe9e,\x81\n")
    assert job.encoding == "latin-1"
    assert Contact.objects.get().first_name == "Renée"


def test_utf16_tab_separated_as_excel_saves_unicode_text(in_acme):
    text = "Mobile\tName\r\n305-555-0106\tÅsa Lind\r\n"
    job = import_bytes(text.encode("utf-16"))
    assert (job.encoding, job.delimiter) == ("utf-16", "\t")
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.last_name) == ("+13055550106", "Åsa", "Lind")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(in_acme, delimiter):
    rows = [["Phone", "First name", "Email"], ["305.555.0107", "Ida", "ida@example.com"]]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    job = import_text(text)
    assert job.delimiter == delimiter
    assert Contact.objects.get().email == "ida@example.com"


def test_quoted_fields_may_hold_delimiters_quotes_and_line_breaks(in_acme):
    text = (
        'phone,name,notes\n3055550108,"Diaz, Rosa","said ""hi""\nat the fair"\nnot a number,Bad,\n'
    )
    job = import_text(text)
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name) == ("Diaz,", "Rosa")
    # The row after a two-line field is reported with the line a person sees in an editor.
    assert rejections(job) == [(4, Reason.INVALID_PHONE)]


def test_phone_numbers_in_any_national_or_international_format(in_acme):
    formats = [
        "(305) 555-0111", "305-555-0112", "305.555.0113", "3055550114", "1-305-555-0115",
        "+1 305 555 0116", "+13055550117", " 305 555 0118 ", "+44 20 7946 0958", "0305 5550119",
    ]  # fmt: skip
    job = import_text("phone\n" + "\n".join(formats) + "\n")
    expected = {f"+1305555011{i}" for i in range(1, 9)} | {"+442079460958"}
    assert set(contacts_by_phone()) == expected
    assert rejections(job) == [(11, Reason.INVALID_PHONE)]
    assert contacts_by_phone()["+13055550111"].region == "FL"


def test_blank_lines_stray_spaces_and_odd_header_casing(in_acme):
    text = (
        "\n  PHONE NUMBER ,first_NAME,  E-Mail \n\n"
        " 3055550121 ,  Ada   Mae ,  ada@example.com \n,,\n\n"
    )
    job = import_text(text)
    contact = Contact.objects.get()
    assert job.mapping == ["phone", "first_name", "email"]
    assert (contact.first_name, contact.email) == ("Ada Mae", "ada@example.com")
    assert (job.rows_total, job.rejected_count) == (1, 0)


def test_a_file_without_a_header_row(in_acme):
    job = import_text("3055550122,Lea\n3055550123,Max\n")
    assert not job.has_header
    assert job.columns == ["Column 1", "Column 2"]
    assert job.mapping[0] == "phone"
    assert job.created_count == 2


def test_an_excel_workbook(in_acme):
    CustomField.objects.create(key="birthday", label="Birthday", type=CustomField.Type.DATE)
    CustomField.objects.create(key="visits", label="Visits", type=CustomField.Type.NUMBER)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Cell", "First Name", "Birthday", "Visits", "Opted in"])
    sheet.append([3055550124, "Noor", dt.datetime(1990, 5, 17), 3, True])
    sheet.append(["(305) 555-0125", "=1+1", None, "=2*2", "yes"])
    sheet.append([None, None, None, None, None])
    sheet.append([3055550126, "Kai", None, None, False])
    content = io.BytesIO()
    workbook.save(content)

    job = import_bytes(content.getvalue(), name="Subscribers.xlsx")

    assert job.file_format == "xlsx"
    assert job.mapping == ["phone", "first_name", "custom:birthday", "custom:visits", "consent"]
    noor = Contact.objects.get(phone="+13055550124")
    assert noor.custom_fields == {"birthday": "1990-05-17", "visits": 3}
    # A formula never computed by a spreadsheet has no value: nothing is stored for it.
    assert Contact.objects.get(phone="+13055550125").first_name == ""
    assert rejections(job) == [(5, Reason.NO_CONSENT)]


# --- what an import does to contacts ----------------------------------------------------------


def test_duplicates_within_the_file_are_rejected_with_the_first_line(in_acme):
    job = import_text("phone,name\n3055550131,Ada\n(305) 555-0131,Ada again\n3055550132,Ben\n")
    assert job.created_count == 2
    rejection = job.rejections.get()
    assert (rejection.line, rejection.reason) == (3, Reason.DUPLICATE)
    assert "line 2" in rejection.detail
    assert Contact.objects.get(phone="+13055550131").first_name == "Ada"


def test_a_number_that_opted_out_is_never_resubscribed(make_contact):
    stopped = make_contact("+13055550133", first_name="Stop")
    services.record_opt_out(stopped, services.Consent(method="keyword", source="STOP"))
    deleted = make_contact("+13055550134")
    services.record_opt_out(deleted, services.Consent(method="keyword", source="STOP"))
    services.delete_contact(deleted)  # its opt-out outlives it

    job = import_text("phone,first name\n3055550133,New name\n3055550134,Back\n3055550135,Ok\n")

    assert rejections(job) == [(2, Reason.OPTED_OUT), (3, Reason.OPTED_OUT)]
    stopped.refresh_from_db()
    assert stopped.status == Contact.Status.UNSUBSCRIBED
    assert stopped.first_name == "Stop"
    assert not Contact.objects.filter(phone="+13055550134").exists()
    assert ConsentEvent.objects.filter(method=ConsentEvent.Method.IMPORT).count() == 1
    assert job.created_count == 1


def test_the_consent_column_decides_row_by_row(in_acme):
    text = (
        "phone,sms consent\n3055550136,Yes\n3055550137,no\n3055550138,\n3055550139,✓\n"
        "3055550140,maybe\n"
    )
    job = import_text(text)
    assert set(contacts_by_phone()) == {"+13055550136", "+13055550139"}
    assert rejections(job) == [
        (3, Reason.NO_CONSENT),
        (4, Reason.NO_CONSENT),
        (6, Reason.NO_CONSENT),
    ]
    assert "maybe" in job.rejections.get(line=6).detail


def test_existing_contacts_get_blanks_filled_and_tags_merged_never_unsubscribed(make_contact):
    kept = make_contact("+13055550141", first_name="Kept", tags=["vip"], subscribed=False)
    subscribed = make_contact("+13055550142", first_name="Sub")
    text = (
        "phone,first name,last name,email,tags\n"
        '3055550141,Other,Lovelace,ada@example.com,"vip, summer"\n'
        "3055550142,Sub,,,\n"
    )
    job = import_text(text)

    kept.refresh_from_db()
    assert (kept.first_name, kept.last_name, kept.email) == ("Kept", "Lovelace", "ada@example.com")
    assert kept.tags == ["vip", "summer"]
    # Declared consent subscribes someone who had not opted in, with the evidence.
    assert kept.status == Contact.Status.SUBSCRIBED
    assert kept.consent_events.get(method="import").wording == CONSENT
    subscribed.refresh_from_db()
    assert subscribed.status == Contact.Status.SUBSCRIBED
    assert (job.created_count, job.updated_count, job.skipped_count) == (0, 1, 1)


def test_importing_the_same_file_twice_creates_and_changes_nothing(in_acme):
    text = "phone,first name,tags\n3055550143,Ada,vip\n3055550144,Ben,\nbad,Bad,\n"
    first = import_text(text)
    events = ConsentEvent.objects.count()
    contacts = list(Contact.objects.values_list("phone", "first_name", "tags", "updated_at"))

    again = import_text(text)

    assert (first.created_count, first.updated_count, first.rejected_count) == (2, 0, 1)
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 2)
    assert again.rejected_count == 1
    assert (
        list(Contact.objects.values_list("phone", "first_name", "tags", "updated_at")) == contacts
    )
    assert ConsentEvent.objects.count() == events


def test_each_new_subscriber_gets_the_declared_consent_as_evidence(in_acme, users):
    job = upload(b"phone\n3055550145\n", name="till-signups.csv")
    job.created_by = users["acme_admin"]
    job.save()
    run(job)
    event = Contact.objects.get().consent_events.get()
    assert (event.kind, event.method) == (ConsentEvent.Kind.OPT_IN, ConsentEvent.Method.IMPORT)
    assert (event.wording, event.source) == (CONSENT, "till-signups.csv")
    assert event.actor_id == users["acme_admin"].pk
    assert Contact.objects.get().status_changed_at == event.occurred_at


def test_a_list_and_tags_for_everyone(make_contact):
    already = make_contact("+13055550146", tags=["old"])
    winter = ContactList.objects.create(name="Winter")
    job = import_text(
        "phone,tags\n3055550146,\n3055550147,Walk-In\n", contact_list=winter, tags=["Fair 2026"]
    )
    assert set(winter.contacts.values_list("phone", flat=True)) == {
        "+13055550146",
        "+13055550147",
    }
    assert contacts_by_phone()["+13055550147"].tags == ["walk-in", "fair 2026"]
    already.refresh_from_db()
    assert already.tags == ["old", "fair 2026"]
    assert {"walk-in", "fair 2026"} <= set(Tag.objects.values_list("name", flat=True))
    assert (job.created_count, job.updated_count) == (1, 1)


def test_custom_fields_by_key_or_label_and_bad_values_left_out(in_acme):
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
    CustomField.objects.create(key="city", label="Home city", type=CustomField.Type.TEXT)
    job = import_text("phone,SHOE_SIZE,home city\n3055550148,41,Lyon\n3055550149,big,\n")
    assert job.mapping == ["phone", "custom:shoe_size", "custom:city"]
    contacts = contacts_by_phone()
    assert contacts["+13055550148"].custom_fields == {"shoe_size": 41, "city": "Lyon"}
    assert contacts["+13055550149"].custom_fields == {}


def test_formulas_and_html_in_names_are_stored_as_plain_text(acme_client, in_acme):
    import_text('phone,first name,last name\n3055550150,"=HYPERLINK(""http://x.test"")",<b>x</b>\n')
    contact = Contact.objects.get()
    assert contact.first_name == '=HYPERLINK("http://x.test")'
    page = acme_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_control_characters_and_nul_bytes_never_reach_the_database(in_acme):
    # A NUL at the start of a file marks it as binary (refused); one deep inside is cleaned.
    rows = b"".join(b"30555%05d,Name\n" % i for i in range(8000))
    job = import_bytes(b"phone,first name\n" + rows + b"3055550151,Ada\x00\x07 Mae\n")
    assert job.status == ImportJob.Status.DONE
    assert Contact.objects.get(phone="+13055550151").first_name == "Ada Mae"


# --- all or nothing -------------------------------------------------------------------------


def test_an_import_that_fails_in_the_middle_changes_nothing(
    make_contact, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.IMPORT_CHUNK_ROWS = 2
    existing = make_contact("+13055550160", first_name="", tags=[])
    events_before = ConsentEvent.objects.count()
    real_merge, merged = merge.merge_chunk, []

    def merge_then_fail(job, payload):
        if len(merged) == 2:
            raise RuntimeError("the database went away")
        merged.append(real_merge(job, payload))
        return merged[-1]

    monkeypatch.setattr(merge, "merge_chunk", merge_then_fail)
    rows = "\n".join(f"305555016{i},Name {i}" for i in range(10))
    job = upload(f"phone,first name\n{rows}\nbad,x\n".encode())
    stored = job.stored_file

    with django_capture_on_commit_callbacks(execute=True):
        run(job)

    assert len(merged) == 2  # two chunks were merged before the failure...
    assert job.status == ImportJob.Status.FAILED
    assert "nothing was imported" in job.error
    assert list(Contact.objects.values_list("phone", flat=True)) == [existing.phone]
    existing.refresh_from_db()
    assert existing.first_name == ""  # ...and none of it survived
    assert ConsentEvent.objects.count() == events_before
    assert not ImportRejection.objects.exists()
    assert (job.created_count, job.rows_total) == (0, 0)
    assert not default_storage.exists(stored)


def test_a_finished_job_is_not_run_again(in_acme):
    job = import_text("phone\n3055550171\n")
    assert jobs.run_import(job.pk) is None
    assert Contact.objects.count() == 1


def test_starting_needs_a_consent_declaration_and_a_phone_column(in_acme):
    job = upload(b"phone,name\n3055550172,Ada\n")
    with pytest.raises(ImportSetupError):
        jobs.start_import(job, mapping=job.mapping, consent_wording=" ", enqueue=False)
    with pytest.raises(ImportSetupError, match="phone numbers"):
        jobs.start_import(job, mapping=["ignore", "first_name"], consent_wording=CONSENT)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED


# --- bad input --------------------------------------------------------------------------------


def _workbook_without_sheet_data() -> bytes:
    content = io.BytesIO()
    openpyxl.Workbook().save(content)
    data = bytearray(content.getvalue())
    return bytes(data[: len(data) // 2])  # cut in half: a damaged workbook


BAD_FILES = [
    (b"", "empty"),
    (b"phone,name\n", "empty"),
    (random.Random(1).randbytes(5000), "not_a_table"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not_a_table"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "not_a_table"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not_a_table"),
    (b"PK\x03\x04" + b"\x00" * 100, "damaged"),
    (_workbook_without_sheet_data(), "damaged"),
    (b"phone\x00name\n3055550173\x00Ada\n", "not_a_table"),
    (("," * 400 + "\n" + "3055550174" + "," * 400 + "x\n").encode(), "too_many_columns"),
]


@pytest.mark.parametrize(("content", "code"), BAD_FILES)
def test_unusable_files_are_refused_with_a_reason(in_acme, content, code):
    with pytest.raises(ImportFileError) as excinfo:
        upload(content)
    assert excinfo.value.code == code
    assert len(excinfo.value.message) > 15
    assert not ImportJob.objects.exists()


def test_a_zip_that_is_not_a_workbook_is_refused(in_acme):
    import zipfile

    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as archive:
        archive.writestr("contacts.csv", "phone\n3055550175\n")
    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        upload(content.getvalue(), name="contacts.zip")


def test_a_broken_line_deep_in_the_file_fails_the_whole_import_with_its_line(in_acme):
    rows = "".join(f"30555502{i:02d},Name\n" for i in range(50))
    job = upload(f"phone,name\n{rows}3055550299,{'x' * 200_000}\n".encode())
    job = run(job)
    assert job.status == ImportJob.Status.FAILED
    assert "Line 52" in job.error
    assert not Contact.objects.exists()


# --- column mapping and preview ---------------------------------------------------------------


def test_the_mapping_is_suggested_from_headers_people_write(in_acme):
    CustomField.objects.create(key="birthday", label="Date of birth", type="date")
    columns = [
        "Mobile Phone #", "Given name", "Surname", "E-mail Address", "Labels", "Time Zone",
        "Accepts SMS Marketing", "Date of birth", "Accepts Email Marketing",
        "Default Address Phone",
    ]  # fmt: skip
    mapping = suggest_mapping(columns, [], CustomField.objects.all(), lambda text: False)
    assert mapping == [
        "phone", "first_name", "last_name", "email", "tags", "timezone", "consent",
        "custom:birthday", "ignore", "ignore",
    ]  # fmt: skip


def test_the_phone_column_is_found_by_its_values_when_no_header_names_it(in_acme):
    columns = ["Customer", "Contact", "Since"]
    sample = [["Ada", "(305) 555-0176", "2024"], ["Ben", "305.555.0177", "2025"]]
    mapping = suggest_mapping(columns, sample, [], lambda text: looks_like_phone(text, "US"))
    assert mapping == ["ignore", "phone", "ignore"]


def test_a_mapping_needs_one_phone_column_and_no_target_twice(in_acme):
    with pytest.raises(ImportSetupError, match="phone numbers"):
        validate_mapping(["first_name", "ignore"], ["A", "B"], [])
    with pytest.raises(ImportSetupError, match="both set to"):
        validate_mapping(["phone", "phone"], ["Home", "Mobile"], [])
    with pytest.raises(ImportSetupError):
        validate_mapping(["phone", "custom:nope"], ["A", "B"], [])


def test_the_preview_shows_rows_as_they_will_be_imported_with_their_problems(make_contact):
    make_contact("+13055550180")
    gone = make_contact("+13055550181")
    services.record_opt_out(gone, services.Consent(method="keyword", source="STOP"))
    text = (
        "phone,first name,email\n3055550180,Ada,ada@example.com\n3055550181,Gone,\n"
        "nope,Bad,\n3055550182,Neo,not-an-email\n3055550182,Twice,\n"
    )
    job = upload(text.encode())
    preview = jobs.preview(job, job.mapping)
    assert [(row.line, row.outcome) for row in preview] == [
        (2, "update"), (3, "rejected"), (4, "rejected"), (5, "new"), (6, "rejected"),
    ]  # fmt: skip
    assert "Opted out" in preview[1].problems[0]
    assert "Invalid phone number" in preview[2].problems[0]
    assert preview[3].contact.email == "" and "not an email" in preview[3].problems[0]
    assert "line 5" in preview[4].problems[0]
    assert not Contact.objects.filter(phone="+13055550182").exists()  # a preview changes nothing


# --- plumbing ---------------------------------------------------------------------------------


def test_uploads_are_stored_per_organization_and_deleted_after_the_import(
    in_acme, django_capture_on_commit_callbacks
):
    job = upload(b"phone\n3055550183\n")
    assert job.stored_file.startswith("imports/acme/")
    with django_capture_on_commit_callbacks(execute=True):
        run(job)
    assert not default_storage.exists(job.stored_file or "imports/acme/none")
    job.refresh_from_db()
    assert job.stored_file == ""


def test_uploads_left_for_a_day_are_deleted(in_acme):
    job = upload(b"phone\n3055550184\n")
    assert jobs.delete_stale_uploads(max_age=dt.timedelta(days=1)) == 0
    assert jobs.delete_stale_uploads(max_age=dt.timedelta(seconds=-1)) >= 1
    assert not default_storage.exists(job.stored_file)
    with pytest.raises(ImportFileError, match="no longer here"):
        jobs.preview(job, job.mapping)


def test_the_operators_command_imports_through_the_same_code(in_acme, tmp_path, capsys):
    from django.core.management import call_command

    path = tmp_path / "contacts.csv"
    path.write_text("Phone,First Name\n3055550185,Ada\nbad,Bad\n")
    call_command(
        "import_contacts", "acme", str(path), consent=CONSENT, list_name="Till", tag=["vip"],
        here=True,
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "1 created" in output and "1 rejected" in output and "line 3" in output
    contact = Contact.objects.get(phone="+13055550185")
    assert contact.tags == ["vip"]
    assert contact.lists.get().name == "Till"
    assert contact.consent_events.get().wording == CONSENT


def test_the_phone_shortcut_reads_numbers_exactly_as_phonenumbers_does():
    rng = random.Random(7)
    shapes = [
        "({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "1-{a}-{b}-{c}", "{a}.{b}.{c}",
        "{a}{b}{c}", "1{a}{b}{c}", "+1{a}{b}{c}", "+{a}{b}{c}", "0{a}{b}{c}", "{a}/{b}-{c}",
        "{a}{b}{c}9",
    ]  # fmt: skip
    for region in ("US", "CA", "GB"):
        for _ in range(3000):
            text = rng.choice(shapes).format(
                a=f"{rng.randrange(1000):03d}", b=f"{rng.randrange(1000):03d}",
                c=f"{rng.randrange(10000):04d}",
            )  # fmt: skip
            try:
                number = phonenumbers.parse(text, region)
                expected = (
                    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                    if phonenumbers.is_valid_number(number)
                    else None
                )
            except phonenumbers.NumberParseException:
                expected = None
            try:
                actual = phones.parse_phone(text, region).e164
            except phones.InvalidPhone:
                actual = None
            assert actual == expected, (text, region)

"""Import and export pages as an owner, an admin and a member use them."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from messaging import services
from messaging.importing import jobs
from messaging.models import (
    ConsentEvent,
    Contact,
    ContactList,
    CustomField,
    ImportJob,
    Segment,
)
from tests.conftest import workspace_client

MESSY = (
    "\ufeffMobile;Name;E-Mail;Tags\r\n"
    "(305) 555-0201;Ada Lovelace;ada@example.com;vip\r\n"
    "\r\n"
    '305.555.0202;=HYPERLINK("http://evil.test");;\r\n'
    "n/a;Nobody;;\r\n"
    "3055550201;Ada again;;\r\n"
).encode()


def upload(client, content=MESSY, name="shop export.csv"):
    return client.post("/contacts/import/", {"file": SimpleUploadedFile(name, content)})


def setup_post(mapping, **extra):
    data = {f"column_{i}": target for i, target in enumerate(mapping)}
    data.update(extra)
    return data


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def admin_client(acme, users):
    return workspace_client(acme, users["acme_admin"])


@pytest.fixture
def member_client(acme, users):
    return workspace_client(acme, users["acme_member"])


def test_upload_map_preview_declare_consent_and_read_the_report(
    admin_client, in_acme, django_capture_on_commit_callbacks, users
):
    response = upload(admin_client)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/contacts/import/{job.pk}/"

    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "columns separated by semicolons" in html
    assert [row.outcome for row in page.context["preview"]] == [
        "new", "new", "rejected", "rejected",
    ]  # fmt: skip
    assert job.mapping == ["phone", "full_name", "email", "tags"]

    # Importing without the declaration is refused, and nothing is queued.
    refused = admin_client.post(
        f"/contacts/import/{job.pk}/", setup_post(job.mapping, consent_how="", **{"import": "1"})
    )
    assert refused.status_code == 400
    assert "Texting people who did not agree is against the law" in refused.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED

    with django_capture_on_commit_callbacks() as queued:
        started = admin_client.post(
            f"/contacts/import/{job.pk}/",
            setup_post(
                job.mapping,
                consent_confirmed="on",
                consent_how="signed up at the till",
                new_list="Till sign-ups",
                tags="spring",
                **{"import": "1"},
            ),
        )
    assert started.status_code == 302
    assert len(queued) == 1  # the task is sent once the job is committed
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    assert job.consent_wording == (
        "Everyone in this file agreed to receive marketing text messages from Acme Boutique. "
        "How they agreed: signed up at the till"
    )
    assert "import-progress" in admin_client.get(f"/contacts/import/{job.pk}/").content.decode()

    jobs.run_import(job.pk)  # what the worker does (tests/messaging/test_import_live.py)

    report = admin_client.get(f"/contacts/import/{job.pk}/")
    html = report.content.decode()
    assert report.context["job"].created_count == 2
    assert report.context["job"].rejected_count == 2
    assert "Invalid phone number" in html and "Duplicate of an earlier row" in html
    assert ContactList.objects.get(name="Till sign-ups").contacts.count() == 2
    ada = Contact.objects.get(phone="+13055550201")
    assert (ada.first_name, ada.last_name, ada.tags) == ("Ada", "Lovelace", ["vip", "spring"])
    event = ada.consent_events.get()
    assert (event.source, event.actor_id) == ("shop export.csv", users["acme_admin"].pk)

    rows = read_csv(admin_client.get(f"/contacts/import/{job.pk}/rejected.csv"))
    assert rows[0] == ["line", "phone_in_file", "reason", "detail"]
    assert [row[:3] for row in rows[1:]] == [
        ["5", "n/a", "Invalid phone number"],
        ["6", "3055550201", "Duplicate of an earlier row"],
    ]


def test_changing_the_mapping_updates_the_preview(admin_client, in_acme):
    CustomField.objects.create(key="nickname", label="Nickname", type="text")
    upload(admin_client)
    job = ImportJob.objects.get()
    mapping = ["phone", "custom:nickname", "ignore", "ignore"]
    page = admin_client.post(f"/contacts/import/{job.pk}/", setup_post(mapping, preview="1"))
    first = page.context["preview"][0].contact
    assert (first.first_name, first.email, first.custom_fields) == (
        "",
        "",
        {"nickname": "Ada Lovelace"},
    )
    both_phone = admin_client.post(
        f"/contacts/import/{job.pk}/", setup_post(["phone", "phone", "ignore", "ignore"])
    )
    assert both_phone.status_code == 400
    assert "are both set to" in both_phone.content.decode()


def test_the_progress_endpoint_reports_while_running_and_when_done(admin_client, in_acme):
    upload(admin_client, b"phone\n3055550203\n")
    job = ImportJob.objects.get()
    jobs.start_import(job, mapping=job.mapping, consent_wording="They signed up online.")
    job.refresh_from_db()
    jobs.set_progress(job, 42.5, 12_000, "importing")

    running = admin_client.get(f"/contacts/import/{job.pk}/progress/").json()
    assert running["status"] == "queued" and not running["finished"]
    assert running["percent"] == 42.5
    assert "12,000 rows" in running["message"]

    jobs.run_import(job.pk)
    done = admin_client.get(f"/contacts/import/{job.pk}/progress/").json()
    assert (done["status"], done["finished"], done["percent"]) == ("done", True, 100)
    assert done["report_url"] == f"/contacts/import/{job.pk}/"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02garbage" * 100, "not a CSV or Excel"),
        (b"%PDF-1.4 whatever", "This is a PDF"),
        (b"", "The submitted file is empty"),
    ],
)
def test_a_bad_upload_gets_a_clear_message_never_a_500(admin_client, in_acme, content, message):
    response = upload(admin_client, content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_upload_over_the_limit_is_refused_as_it_arrives(admin_client, in_acme, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 10_000
    response = upload(admin_client, b"phone\n" + b"3055550204\n" * 2000)
    assert response.status_code == 400
    assert "This file is larger than 10 kB." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_50_megabyte_file_is_accepted_and_imported(admin_client, in_acme):
    note = "x" * 10_000
    rows = "".join(f"3055{i:06d},Name {i},{note}\n" for i in range(5_000))
    content = f"phone,first name,notes\n{rows}".encode()
    assert len(content) > 50_000_000
    upload(admin_client, content, name="big.csv")
    job = ImportJob.objects.get()
    assert job.mapping == ["phone", "first_name", "ignore"]
    jobs.start_import(job, mapping=job.mapping, consent_wording="They signed up online.")
    job = jobs.run_import(job.pk)
    assert job.status == ImportJob.Status.DONE
    assert job.created_count + job.rejected_count == 5_000
    assert job.created_count > 4_000  # 3055000000-… includes numbers that are not valid


def test_members_may_not_import_or_export(member_client, admin_client, in_acme):
    upload(admin_client, b"phone\n3055550205\n")
    job = ImportJob.objects.get()
    for url in [
        "/contacts/import/",
        f"/contacts/import/{job.pk}/",
        f"/contacts/import/{job.pk}/progress/",
        f"/contacts/import/{job.pk}/rejected.csv",
        "/contacts/export.csv",
    ]:
        assert member_client.get(url).status_code == 403, url
    assert upload(member_client).status_code == 403
    list_page = member_client.get("/contacts/").content.decode()
    assert "/contacts/import/" not in list_page and "/contacts/export.csv" not in list_page


def test_another_organizations_import_is_not_found(acme_client, globex, users):
    with tenant_context(globex):
        theirs = jobs.create_import(io.BytesIO(b"phone\n3055550206\n"), file_name="theirs.csv")
    for suffix in ["", "progress/", "rejected.csv"]:
        assert acme_client.get(f"/contacts/import/{theirs.pk}/{suffix}").status_code == 404
    with tenant_context(globex):
        assert ImportJob.objects.get(pk=theirs.pk).stored_file.startswith("imports/globex/")


# --- export -----------------------------------------------------------------------------------


def test_the_export_follows_the_contact_list_filter(acme_client, make_contact):
    vip = make_contact("+13055550211", first_name="Vera", tags=["vip"])
    make_contact("+13055550212", first_name="Otto")
    pending = make_contact("+13055550213", first_name="Pia", subscribed=False)
    winter = ContactList.objects.create(name="Winter")
    services.add_to_list(winter, Contact.objects.filter(pk=pending.pk))
    segment = Segment.objects.create(
        name="VIP", rules={"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}
    )

    def phones(**params):
        return [row[0] for row in read_csv(acme_client.get("/contacts/export.csv", params))[1:]]

    assert phones() == ["+13055550213", "+13055550212", "+13055550211"]
    assert phones(tag="vip") == [vip.phone]
    assert phones(status="none") == [pending.phone]
    assert phones(q="otto") == ["+13055550212"]
    assert phones(list=winter.pk) == [pending.phone]
    assert phones(segment=segment.pk) == [vip.phone]


def test_the_export_is_formula_safe_has_custom_fields_and_imports_back(acme_client, make_contact):
    CustomField.objects.create(key="shoe_size", label="Shoe size", type="number")
    make_contact(
        "+13055550214",
        first_name='=HYPERLINK("http://evil.test","x")',
        last_name="@SUM(A1)",
        tags=["vip", "summer"],
        custom_fields={"shoe_size": 41},
    )
    response = acme_client.get("/contacts/export.csv")
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    header, row = read_csv(response)
    assert header[:5] == ["Phone", "First name", "Last name", "Email", "Tags"]
    assert header[-1] == "Shoe size"
    assert row[0] == "+13055550214"  # a number, not a formula: left as it is
    assert row[1] == '\'=HYPERLINK("http://evil.test","x")'
    assert row[2] == "'@SUM(A1)"
    assert (row[4], row[-1]) == ("vip, summer", "41")

    exported = b"".join(acme_client.get("/contacts/export.csv").streaming_content)
    job = jobs.create_import(io.BytesIO(exported), file_name="export.csv")
    assert job.mapping[:6] == ["phone", "first_name", "last_name", "email", "tags", "timezone"]
    assert job.mapping[-1] == "custom:shoe_size"


def test_the_contact_list_offers_import_and_export_of_the_current_filter(acme_client, in_acme):
    html = acme_client.get("/contacts/", {"tag": "vip"}).content.decode()
    assert 'href="/contacts/import/"' in html
    assert 'href="/contacts/export.csv?tag=vip"' in html


def test_the_consent_history_of_an_imported_contact_names_the_import(acme_client, in_acme):
    jobs.start_import(
        jobs.create_import(io.BytesIO(b"phone\n3055550215\n"), file_name="fair.csv"),
        mapping=["phone"],
        consent_wording="They signed the paper form at the spring fair.",
        enqueue=False,
    )
    jobs.run_import(ImportJob.objects.get().pk)
    contact = Contact.objects.get()
    rows = list(
        csv.reader(
            io.StringIO(acme_client.get(f"/contacts/{contact.pk}/consent.csv").content.decode())
        )
    )
    assert rows[1][2] == ConsentEvent.Method.IMPORT.label
    assert rows[1][4:6] == ["They signed the paper form at the spring fair.", "fair.csv"]


def test_progress_json_is_small_and_fast_to_poll(
    admin_client, in_acme, django_assert_max_num_queries
):
    upload(admin_client, b"phone\n3055550216\n")
    job = ImportJob.objects.get()
    with django_assert_max_num_queries(8):
        body = admin_client.get(f"/contacts/import/{job.pk}/progress/").content
    assert len(json.loads(body)) == 6


def test_the_segment_preview_counts_up_to_the_cap_like_the_contact_list(
    acme_client, make_contact, monkeypatch
):
    from messaging import selectors

    monkeypatch.setattr(selectors.capped_count, "__defaults__", (2,))
    for _ in range(3):
        make_contact(tags=["vip"])
    rules = {"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}
    data = acme_client.post(
        "/segments/preview/", json.dumps(rules), content_type="application/json"
    ).json()
    assert (data["count"], data["count_capped"]) == (2, True)
    assert (data["subscribed"], data["subscribed_capped"]) == (2, True)

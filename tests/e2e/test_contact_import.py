"""A shop owner imports the messy export of their till system in a real browser: the upload, the
column mapping, the consent declaration, the progress bar and the report."""

from django.db import connection
from django_tenants.utils import tenant_context

from messaging.models import Contact, ContactList, ImportJob
from organizations.models import Organization
from tests.conftest import PASSWORD
from tests.e2e.pages import sign_in

PHONES = ["+13055550401", "+13055550402", "+13055550403"]
MESSY_CSV = (
    "\ufeffCell;Who;E-Mail;Tags\r\n"
    "(305) 555-0401;Ada Lovelace;ada@example.com;vip\r\n"
    "\r\n"
    "  305.555.0402 ;  Ben   Okafor ;;\r\n"
    "+1 305 555 0403;<script>alert(1)</script> Smith;;walk-in\r\n"
    "call me;Nobody;;\r\n"
    "3055550401;Ada twice;;\r\n"
).encode()


def test_an_owner_imports_a_messy_csv_and_reads_the_report(
    page, live_server_url, celery_worker, world, committed
):
    port = live_server_url.rsplit(":", 1)[1]
    acme_url = f"http://acme.localhost:{port}"
    acme = Organization.objects.get(pk=world.acme_id)
    try:
        sign_in(page, acme_url + "/", "owner@acme.test", PASSWORD)

        page.goto(acme_url + "/contacts/")
        page.get_by_role("link", name="Import").click()
        page.get_by_label("Contact file").set_input_files(
            files=[{"name": "till export.csv", "mimeType": "text/csv", "buffer": MESSY_CSV}]
        )
        page.get_by_role("button", name="Upload and preview").click()

        # The columns were recognised, except "Who": say it holds the full name.
        page.get_by_text("columns separated by semicolons").wait_for()
        assert page.get_by_label("Cell").input_value() == "phone"
        assert page.get_by_label("Who").input_value() == "ignore"
        page.get_by_label("Who").select_option("full_name")
        page.get_by_role("button", name="Update the preview").click()
        preview = page.locator("[data-test=preview]")
        preview.get_by_text("Lovelace").wait_for()
        assert preview.get_by_text("Invalid phone number").count() == 1
        assert "same number as line 2" in preview.inner_text()

        # No import without the declaration.
        page.get_by_role("button", name="Import contacts").click()
        page.get_by_text("Texting people who did not agree is against the law").wait_for()
        page.get_by_label("Everyone in this file agreed to receive marketing text messages").check()
        page.get_by_label("How did they agree?").fill("signed up at the till")
        page.get_by_label("…or to a new list").fill("Till sign-ups")
        page.get_by_role("button", name="Import contacts").click()

        # The progress bar, then the report once the worker has committed the import.
        progress = page.locator("#import-progress")
        report = page.locator("[data-test=import-report]")
        progress.or_(report).first.wait_for()
        report.wait_for(timeout=30_000)
        assert page.locator("[data-test=created]").inner_text() == "3"
        assert page.locator("[data-test=rejected]").inner_text() == "2"
        rejected = page.locator("[data-test=rejections]").inner_text()
        assert "Invalid phone number" in rejected and "Duplicate of an earlier row" in rejected
        assert "same number as line 2" in rejected

        with tenant_context(acme):
            contacts = {c.phone: c for c in Contact.objects.filter(phone__in=PHONES)}
            assert set(contacts) == set(PHONES)
            assert contacts["+13055550402"].first_name == "Ben"
            assert contacts["+13055550403"].first_name == "<script>alert(1)</script>"
            assert all(c.status == Contact.Status.SUBSCRIBED for c in contacts.values())

        # The imported contacts are on the contact list, names shown as text.
        page.goto(acme_url + "/contacts/?q=smith")
        page.get_by_text("<script>alert(1)</script> Smith").wait_for()
    finally:
        with tenant_context(acme), connection.cursor() as cursor:
            cursor.execute("DELETE FROM messaging_consentevent WHERE phone = ANY(%s)", [PHONES])
            Contact.objects.filter(phone__in=PHONES).delete()
            ContactList.objects.filter(name="Till sign-ups").delete()
            cursor.execute(
                "DELETE FROM messaging_importrejection WHERE job_id IN "
                "(SELECT id FROM messaging_importjob WHERE file_name = 'till export.csv')"
            )
            ImportJob.objects.filter(file_name="till export.csv").delete()

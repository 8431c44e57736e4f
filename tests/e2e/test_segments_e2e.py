from django_tenants.utils import tenant_context

from messaging import services
from messaging.models import ConsentEvent, Contact, Segment
from tests.conftest import PASSWORD
from tests.e2e.pages import sign_in


def test_building_a_segment_shows_a_live_count_before_saving(
    page, live_server_url, committed, world
):
    from organizations.models import Organization

    acme = Organization.objects.get(pk=world.acme_id)
    consent = services.Consent(method=ConsentEvent.Method.MANUAL, source="e2e")
    with tenant_context(acme):
        for n in range(3):
            services.create_contact(phone=f"+1786555{n:04d}", tags=["e2e-vip"], consent=consent)
        services.create_contact(phone="+17865550099", tags=["e2e-other"], consent=consent)
    port = live_server_url.rsplit(":", 1)[1]
    try:
        sign_in(page, f"http://acme.localhost:{port}/segments/new/", "admin@acme.test", PASSWORD)
        page.get_by_label("Name").fill("E2E VIPs")
        page.get_by_label("Field").select_option("tag")
        page.get_by_label("Value").select_option("e2e-vip")
        page.get_by_text("3 contacts match").wait_for()
        page.get_by_role("button", name="Save segment").click()
        page.get_by_text("Segment “E2E VIPs” saved.").wait_for()
        with tenant_context(acme):
            rules = Segment.objects.get(name="E2E VIPs").rules
        assert rules["conditions"] == [{"field": "tag", "op": "has", "value": "e2e-vip"}]
    finally:
        with tenant_context(acme):
            Segment.objects.filter(name="E2E VIPs").delete()
            Contact.objects.filter(tags__overlap=["e2e-vip", "e2e-other"]).delete()

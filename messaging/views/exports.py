"""Contacts out: the contact list's current filter as a CSV download."""

from django.http import StreamingHttpResponse
from django.utils import timezone

from messaging.exporting import contacts_csv
from messaging.selectors import ContactFilter, filter_contacts
from organizations.permissions import require_permission


@require_permission("contacts.export")
def contact_export(request):
    contact_filter = ContactFilter.from_params(request.GET)
    contacts = filter_contacts(contact_filter, request.tenant.country)
    response = StreamingHttpResponse(contacts_csv(contacts), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="{request.tenant.slug}-contacts-{stamp}.csv"'
    )
    return response

"""Contact pages: list (search, filters, keyset pages), detail, create, edit, delete."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from messaging import services
from messaging.forms import ContactForm, NewContactForm
from messaging.models import ConsentEvent, Contact, ContactList, CustomField, Segment, Tag
from messaging.selectors import ContactFilter, capped_count, filter_contacts, keyset_page
from organizations.permissions import has_permission, require_permission


def _cursor(request, name):
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


@require_permission("contacts.view")
def contact_list(request):
    contact_filter = ContactFilter.from_params(request.GET)
    contacts = filter_contacts(contact_filter, request.tenant.country)
    page = keyset_page(contacts, after=_cursor(request, "after"), before=_cursor(request, "before"))
    count, capped = capped_count(contacts)
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    return render(
        request,
        "messaging/contacts/list.html",
        {
            "page": page,
            "count": count,
            "count_capped": capped,
            "filter": contact_filter,
            "query": query.urlencode(),
            "tags": Tag.objects.values_list("name", flat=True),
            "lists": ContactList.objects.only("id", "name"),
            "segments": Segment.objects.only("id", "name"),
            "statuses": Contact.Status.choices,
            "can_import": has_permission(request, "contacts.import"),
            "can_export": has_permission(request, "contacts.export"),
        },
    )


@require_permission("contacts.view")
def contact_detail(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    return render(
        request,
        "messaging/contacts/detail.html",
        {
            "contact": contact,
            "consent_events": contact.consent_events.all()[:100],
            "messages_exchanged": contact.messages.all()[:100],
            "lists": contact.lists.all(),
            "custom_fields": [
                (field.label, contact.custom_fields.get(field.key))
                for field in CustomField.objects.all()
            ],
        },
    )


@require_permission("contacts.edit")
def contact_create(request):
    custom_fields = CustomField.objects.all()
    form = NewContactForm(request.POST or None, custom_fields=custom_fields)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        consent = None
        if data["consent"]:
            consent = services.Consent(
                method=ConsentEvent.Method.MANUAL,
                wording="Entered by a team member who confirmed the person's consent.",
                source=data["consent_note"],
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        try:
            contact = services.create_contact(
                phone=data["phone"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                tags=data["tags"],
                custom_fields=form.custom_values(),
                timezone_name=data["timezone_name"],
                consent=consent,
                actor=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"{contact.display_name} was added.")
            return redirect("contact_detail", pk=contact.pk)
    return render(request, "messaging/contacts/form.html", {"form": form, "creating": True})


@require_permission("contacts.edit")
def contact_edit(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    custom_fields = CustomField.objects.all()
    initial = {
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "tags": ", ".join(contact.tags),
        "timezone_name": contact.timezone if contact.timezone_is_manual else "",
        **{f"custom__{k}": v for k, v in contact.custom_fields.items()},
    }
    form = ContactForm(request.POST or None, initial=initial, custom_fields=custom_fields)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_contact(
                contact,
                phone=data["phone"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                tags=data["tags"],
                custom_fields=form.custom_values(),
                timezone_name=data["timezone_name"],
                actor=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("contact_detail", pk=contact.pk)
    return render(request, "messaging/contacts/form.html", {"form": form, "contact": contact})


@require_POST
@require_permission("contacts.delete")
def contact_delete(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    name = contact.display_name
    services.delete_contact(contact)
    messages.success(request, f"{name} was deleted. Their consent history is kept as evidence.")
    return redirect("contact_list")


@require_POST
@require_permission("contacts.edit")
def contact_unsubscribe(request, pk):
    """A team member records an opt-out the person asked for another way (email, in person)."""
    contact = get_object_or_404(Contact, pk=pk)
    services.record_opt_out(
        contact,
        services.Consent(
            method=ConsentEvent.Method.MANUAL,
            source=request.POST.get("note", "")[:255] or "Unsubscribed by a team member",
            ip_address=request.META.get("REMOTE_ADDR"),
        ),
        actor=request.user,
    )
    messages.success(request, f"{contact.display_name} is unsubscribed.")
    return redirect(reverse("contact_detail", args=[contact.pk]))


def _add_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


@require_permission("contacts.view")
def contact_consent_export(request, pk):
    """The contact's consent history as CSV: evidence for a carrier or a court."""
    from django.http import HttpResponse

    from messaging.spreadsheets import SafeWriter

    contact = get_object_or_404(Contact, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="consent-{contact.phone[1:]}.csv"'
    writer = SafeWriter(response)
    writer.writerow(
        ["phone", "event", "method", "occurred_at_utc", "wording", "source", "ip_address"]
    )
    events = ConsentEvent.objects.filter(phone=contact.phone).order_by("occurred_at", "id")
    for event in events:
        writer.writerow(
            [
                event.phone,
                event.get_kind_display(),
                event.get_method_display(),
                event.occurred_at.isoformat(),
                event.wording,
                event.source,
                event.ip_address or "",
            ]
        )
    return response

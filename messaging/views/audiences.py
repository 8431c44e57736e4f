"""Lists, segments, tags and custom fields: the ways to group contacts."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from messaging import segments, services
from messaging.forms import ContactListForm, CustomFieldForm, SegmentForm
from messaging.models import Contact, ContactList, CustomField, Segment, Tag
from messaging.selectors import ContactFilter, capped_count, filter_contacts
from organizations.permissions import require_permission

SAMPLE_SIZE = 5


# --- lists ------------------------------------------------------------------------------------


@require_permission("contacts.view")
def list_index(request):
    lists = ContactList.objects.annotate(size=Count("contactlistmembership"))
    form = ContactListForm()
    return render(request, "messaging/lists/index.html", {"lists": lists, "form": form})


@require_POST
@require_permission("contacts.edit")
def list_create(request):
    form = ContactListForm(request.POST)
    if form.is_valid():
        contact_list = form.save()
        messages.success(request, f"List “{contact_list.name}” created.")
        return redirect("list_index")
    lists = ContactList.objects.annotate(size=Count("contactlistmembership"))
    return render(request, "messaging/lists/index.html", {"lists": lists, "form": form}, status=400)


@require_POST
@require_permission("contacts.delete")
def list_delete(request, pk):
    contact_list = get_object_or_404(ContactList, pk=pk)
    contact_list.delete()
    messages.success(request, f"List “{contact_list.name}” deleted; its contacts were kept.")
    return redirect("list_index")


@require_POST
@require_permission("contacts.edit")
def add_filtered_to_list(request):
    """Add every contact matching the contact page's current filter to a list, in one go."""
    contact_list = get_object_or_404(ContactList, pk=request.POST.get("list_id") or 0)
    contacts = filter_contacts(ContactFilter.from_params(request.POST), request.tenant.country)
    added = services.add_to_list(contact_list, contacts)
    messages.success(request, f"Added {added:,} contacts to “{contact_list.name}”.")
    return redirect(f"{request.POST.get('return_to', '/contacts/')}")


@require_POST
@require_permission("contacts.edit")
def tag_filtered(request):
    """Tag every contact matching the contact page's current filter."""
    contacts = filter_contacts(ContactFilter.from_params(request.POST), request.tenant.country)
    try:
        tagged = services.add_tag(contacts, request.POST.get("new_tag", ""))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"Tagged {tagged:,} contacts.")
    return redirect(f"{request.POST.get('return_to', '/contacts/')}")


# --- tags -------------------------------------------------------------------------------------


@require_permission("contacts.view")
def tag_index(request):
    return render(request, "messaging/tags/index.html", {"tags": Tag.objects.all()})


@require_POST
@require_permission("contacts.delete")
def tag_delete(request, pk):
    tag = get_object_or_404(Tag, pk=pk)
    removed = services.delete_tag(tag)
    messages.success(request, f"Tag “{tag.name}” deleted and removed from {removed:,} contacts.")
    return redirect("tag_index")


# --- custom fields ----------------------------------------------------------------------------


@require_permission("contacts.view")
def custom_field_index(request):
    return _custom_fields_page(request, CustomFieldForm())


@require_POST
@require_permission("fields.manage")
def custom_field_create(request):
    form = CustomFieldForm(request.POST)
    if form.is_valid():
        field = form.save()
        messages.success(
            request, f"Field “{field.label}” added. Use it in texts as {{{field.key}}}."
        )
        return redirect("custom_field_index")
    return _custom_fields_page(request, form, status=400)


def _custom_fields_page(request, form, status=200):
    return render(
        request,
        "messaging/custom_fields/index.html",
        {"fields": CustomField.objects.all(), "form": form},
        status=status,
    )


# --- segments ---------------------------------------------------------------------------------


def _builder_context(form, segment=None):
    return {
        "form": form,
        "segment": segment,
        "builder_options": json.dumps(
            {
                "tags": list(Tag.objects.values_list("name", flat=True)),
                "lists": [{"id": x.id, "name": x.name} for x in ContactList.objects.all()],
                "statuses": [{"value": v, "label": label} for v, label in Contact.Status.choices],
                "custom": [
                    {"key": f.key, "label": f.label, "type": f.type}
                    for f in CustomField.objects.all()
                ],
            }
        ),
    }


@require_permission("contacts.view")
def segment_index(request):
    return render(request, "messaging/segments/index.html", {"segments": Segment.objects.all()})


@require_permission("contacts.edit")
def segment_edit(request, pk=None):
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    form = SegmentForm(request.POST or None, instance=segment)
    if request.method == "POST" and form.is_valid():
        try:
            form.instance.rules = segments.validate_rules(form.cleaned_data["rules"])
        except ValidationError as exc:
            form.add_error(None, exc.messages[0])
        else:
            saved = form.save()
            messages.success(request, f"Segment “{saved.name}” saved.")
            return redirect("segment_index")
    status = 400 if form.errors else 200
    return render(
        request, "messaging/segments/edit.html", _builder_context(form, segment), status=status
    )


@require_POST
@require_permission("contacts.delete")
def segment_delete(request, pk):
    segment = get_object_or_404(Segment, pk=pk)
    segment.delete()
    messages.success(request, f"Segment “{segment.name}” deleted.")
    return redirect("segment_index")


@require_POST
@require_permission("contacts.view")
def segment_preview(request):
    """Live count and a sample for rules being edited, before they are saved."""
    try:
        rules = segments.validate_rules(json.loads(request.body or b"{}"))
    except (ValueError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else "Unreadable rules."
        return JsonResponse({"error": message}, status=400)
    matching = segments.contacts_matching(rules)
    # Counted up to COUNT_CAP, like the contact list: "10,000+" is as useful while editing, and
    # an exact count of a large segment costs a scan of every match on each keystroke (over
    # 100 ms at a million contacts; docs/benchmarks.md).
    count, capped = capped_count(matching)
    subscribed, subscribed_capped = capped_count(matching.filter(status=Contact.Status.SUBSCRIBED))
    sample = [
        {"id": c.id, "name": c.display_name, "phone": c.phone, "status": c.get_status_display()}
        for c in matching.only("id", "first_name", "last_name", "phone", "status")[:SAMPLE_SIZE]
    ]
    return JsonResponse(
        {
            "count": count,
            "count_capped": capped,
            "subscribed": subscribed,
            "subscribed_capped": subscribed_capped,
            "sample": sample,
        }
    )

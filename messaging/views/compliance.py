"""The organization's compliance settings: keyword replies, join keywords, quiet hours."""

from django.contrib import messages
from django.shortcuts import redirect, render

from messaging import services
from messaging.forms import ComplianceSettingsForm
from messaging.quiet_hours import LEGAL_END, LEGAL_START
from organizations.permissions import check_permission, has_permission, require_permission


@require_permission("contacts.view")
def compliance_settings(request):
    instance = services.compliance_settings()
    form = ComplianceSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST":
        check_permission(request, "compliance.edit")
        if form.is_valid():
            form.save()
            messages.success(request, "Compliance settings saved.")
            return redirect("compliance_settings")
    return render(
        request,
        "messaging/compliance.html",
        {
            "form": form,
            "can_edit": has_permission(request, "compliance.edit"),
            "legal_start": LEGAL_START,
            "legal_end": LEGAL_END,
        },
        status=400 if form.errors else 200,
    )

"""The support console's view into an organization's campaigns and messages. Entering an
organization's data is deliberate and audited (DESIGN §2): every page records who looked, at
what, and what they searched for."""

import re

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django_tenants.utils import tenant_context

from messaging.campaign_stats import run_stats
from messaging.models import Campaign, CampaignRun, Message
from organizations.models import Organization
from organizations.services import record_audit

PAGE = 100
_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


def _audit(request, organization, view, **data):
    ip = request.META.get("REMOTE_ADDR")
    record_audit(
        f"support.viewed_{view}", organization=organization, actor=request.user, data=data, ip=ip
    )


def _messages_matching(term: str):
    term = term.strip()
    if not term:
        return Message.objects.all()
    if _SID.match(term):
        return Message.objects.filter(sid=term)
    digits = re.sub(r"\D", "", term)
    phone = f"+{digits}" if term.startswith("+") or len(digits) > 10 else f"+1{digits}"
    return Message.objects.filter(Q(to_phone=phone) | Q(from_phone=phone))


@staff_member_required
def organization_messages(request, organization_id):
    organization = get_object_or_404(Organization.objects.customers(), pk=organization_id)
    term = request.GET.get("q", "")
    with tenant_context(organization):
        rows = list(_messages_matching(term).select_related("run__campaign").order_by("-id")[:PAGE])
    _audit(request, organization, "messages", q=term)
    return render(
        request,
        "admin/messaging/organization_messages.html",
        {
            **admin.site.each_context(request),
            "title": f"Messages of {organization.name}",
            "organization": organization,
            "rows": rows,
            "q": term,
        },
    )


@staff_member_required
def organization_campaigns(request, organization_id):
    organization = get_object_or_404(Organization.objects.customers(), pk=organization_id)
    with tenant_context(organization):
        campaigns = list(Campaign.objects.all()[:PAGE])
        runs = list(CampaignRun.objects.select_related("campaign").order_by("-occurrence")[:PAGE])
        stats = {run.pk: run_stats(run) for run in runs[:20]}
    _audit(request, organization, "campaigns")
    return render(
        request,
        "admin/messaging/organization_campaigns.html",
        {
            **admin.site.each_context(request),
            "title": f"Campaigns of {organization.name}",
            "organization": organization,
            "campaigns": campaigns,
            "runs": [(run, stats.get(run.pk)) for run in runs],
        },
    )


@staff_member_required
def find_message(request):
    """Which organization a Twilio SID (or a phone number's latest texts) belongs to: looks
    through every customer's schema."""
    term = request.GET.get("q", "").strip()
    found = []
    if term:
        for organization in Organization.objects.customers().order_by("name"):
            with tenant_context(organization):
                rows = list(_messages_matching(term).order_by("-id")[:20])
            found += [(organization, row) for row in rows]
            if _SID.match(term) and found:
                break
        record_audit(
            "support.searched_messages", actor=request.user, data={"q": term, "hits": len(found)}
        )
    return render(
        request,
        "admin/messaging/find_message.html",
        {**admin.site.each_context(request), "title": "Find a message", "q": term, "found": found},
    )

"""Campaign pages: list, compose, live results, pause/resume/cancel, test send."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from messaging import campaigns
from messaging.campaign_forms import CampaignForm
from messaging.campaign_stats import run_stats
from messaging.encoding import text_cost
from messaging.models import Campaign, CampaignRun, CustomField
from messaging.views.contacts import _add_errors
from organizations.permissions import check_permission, has_permission, require_permission


@require_permission("campaigns.view")
def campaign_list(request):
    rows = Campaign.objects.annotate(last_run=Max("runs__occurrence")).order_by("-created_at")[:200]
    return render(request, "messaging/campaigns/list.html", {"campaigns": rows})


def _composer(request, form, campaign=None, status=200):
    return render(
        request,
        "messaging/campaigns/compose.html",
        {
            "form": form,
            "campaign": campaign,
            "custom_fields": CustomField.objects.all(),
            "can_send": has_permission(request, "campaigns.send"),
        },
        status=status,
    )


@require_permission("campaigns.edit")
def campaign_create(request):
    form = CampaignForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        campaign = form.save(commit=False)
        campaign.created_by = request.user
        campaign.save()
        form.save_m2m()
        return _after_save(request, campaign, form)
    return _composer(request, form, status=400 if form.errors else 200)


@require_permission("campaigns.edit")
def campaign_edit(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    if not campaigns.editable(campaign):
        messages.info(request, "This campaign has started sending; it can no longer be edited.")
        return redirect("campaign_detail", pk=campaign.pk)
    form = CampaignForm(request.POST or None, request.FILES or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        form.save()
        return _after_save(request, campaign, form)
    return _composer(request, form, campaign, status=400 if form.errors else 200)


def _after_save(request, campaign, form):
    action = request.POST.get("action", "draft")
    try:
        if action == "send":
            check_permission(request, "campaigns.send")
            run = campaigns.schedule_campaign(campaign)
            if run is not None:
                messages.success(request, "Sending now. Watch it go out below.")
            else:
                messages.success(request, "Scheduled.")
        elif campaign.status == Campaign.Status.SCHEDULED:
            campaigns.save_scheduled_edit(campaign)
            messages.success(request, "Saved; the schedule follows your changes.")
        else:
            messages.success(request, "Draft saved.")
    except ValidationError as exc:
        _add_errors(form, exc)
        return _composer(request, form, campaign, status=400)
    return redirect("campaign_detail", pk=campaign.pk)


@require_POST
@require_permission("campaigns.view")
def campaign_preview(request):
    """Live figures for the composer: encoding, segments and the audience's size and cost."""
    form = CampaignForm(request.POST, request.FILES or None)
    body = request.POST.get("body", "")
    cost = text_cost(body)
    data = {
        "characters": cost.characters,
        "encoding": cost.encoding,
        "segments": cost.segments,
        "unicode_characters": list(cost.unicode_characters),
    }
    form.is_valid()  # for the cleaned audience fields; errors are the composer's business
    picked = form.cleaned_data
    spec = campaigns.AudienceSpec.build(
        send_to_all=picked.get("send_to_all", False),
        lists=picked.get("lists") or [],
        segments=picked.get("segments") or [],
        tags=picked.get("tags") or [],
        exclude_lists=picked.get("exclude_lists") or [],
        exclude_segments=picked.get("exclude_segments") or [],
        exclude_tags=picked.get("exclude_tags") or [],
    )
    summary = campaigns.summarize_audience(
        spec, body, has_media=bool(request.POST.get("has_media"))
    )
    data.update(
        matching=summary.matching,
        recipients=summary.recipients,
        not_subscribed=summary.not_subscribed,
        messages_each=summary.messages_each,
        messages_total=summary.messages_total,
    )
    return JsonResponse(data)


@require_permission("campaigns.view")
def campaign_detail(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    runs = list(campaign.runs.all()[:20])
    run = _selected_run(campaign, request.GET.get("run"))
    return render(
        request,
        "messaging/campaigns/detail.html",
        {
            "campaign": campaign,
            "runs": runs,
            "run": run,
            "stats": run_stats(run) if run else None,
            "editable": campaigns.editable(campaign),
            "can_send": has_permission(request, "campaigns.send"),
        },
    )


def _selected_run(campaign, run_id):
    runs = campaign.runs.all()
    if run_id and run_id.isdigit():
        return get_object_or_404(runs, pk=int(run_id))
    return runs.first()


@require_permission("campaigns.view")
def run_stats_json(request, pk, run_pk):
    run = get_object_or_404(CampaignRun, pk=run_pk, campaign_id=pk)
    return JsonResponse(run_stats(run))


@require_POST
@require_permission("campaigns.send")
def campaign_action(request, pk, action):
    campaign = get_object_or_404(Campaign, pk=pk)
    handlers = {
        "pause": (campaigns.pause_campaign, "Paused. Nothing more goes out until you resume."),
        "resume": (campaigns.resume_campaign, "Resumed."),
        "cancel": (campaigns.cancel_campaign, "Canceled. Messages not yet sent won't be."),
    }
    if action not in handlers:
        return JsonResponse({"error": "Unknown action"}, status=404)
    handler, done = handlers[action]
    try:
        handler(campaign)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, done)
    return redirect("campaign_detail", pk=campaign.pk)


@require_POST
@require_permission("campaigns.edit")
def campaign_test_send(request):
    """Send the text as it stands to the person's own verified phone."""
    try:
        message = campaigns.send_test(request.user, request.POST.get("body", ""))
    except ValidationError as exc:
        return JsonResponse({"error": exc.messages[0]}, status=400)
    return JsonResponse({"sent_to": message.to_phone, "body": message.body})


@require_permission("campaigns.view")
def campaign_stats_json(request, pk):
    """The campaign's status and its latest run's live numbers (None before it starts)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    run = campaign.runs.first()
    return JsonResponse(
        {
            "campaign_status": campaign.status,
            "campaign_status_label": campaign.get_status_display(),
            "run": run_stats(run) if run else None,
        }
    )

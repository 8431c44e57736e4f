"""The registration's pages: the guided form, the status page (with what to change after a
rejection) and choosing the phone number. Everyone in the organization may look; owners and
admins act. Views parse input, ask the permission gate and call a2p.services."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from a2p import prefill, rejections, selectors, services
from a2p.forms import (
    PhoneNumberChoiceForm,
    PhoneNumberSearchForm,
    RegistrationForm,
    draft_answers,
    form_initial,
)
from a2p.models import Registration
from organizations.permissions import check_permission, has_permission, require_permission
from smsplatform.http import client_ip
from smsplatform.providers.errors import ProviderError, RetryableError

Status = Registration.Status


def _answers_to_show(registration, organization) -> dict:
    return form_initial(
        registration.draft or registration.details or prefill.initial_answers(organization)
    )


@require_permission("registration.view")
def registration_details(request):
    organization = request.tenant
    registration = services.registration_for(organization)
    editable = services.can_edit_details(registration)
    resubmitting = registration.status != Status.DRAFT
    form = RegistrationForm(
        request.POST or None,
        initial=_answers_to_show(registration, organization),
        business_names=[organization.name],
    )
    if request.method == "POST":
        check_permission(request, "registration.manage")
        try:
            if request.POST.get("action") == "save":
                services.save_draft(organization, draft_answers(request.POST), actor=request.user)
                messages.success(request, "Saved. Come back any time to finish.")
                return redirect("registration_details")
            if form.is_valid():
                replies = prefill.keyword_replies(organization)
                for problem in replies.problems:
                    form.add_error(None, problem)
                if not replies.problems:
                    details = {**form.cleaned_data, **replies.as_details()}
                    submit = (
                        services.resubmit_registration
                        if resubmitting
                        else services.submit_registration
                    )
                    submit(organization, details, actor=request.user, ip=client_ip(request))
                    messages.success(
                        request,
                        "Sent! We will carry your registration through and tell you here as "
                        "it moves.",
                    )
                    return redirect("registration")
        except services.RegistrationRefused as exc:
            messages.error(request, exc.message)
            return redirect("registration")
    return render(
        request,
        "a2p/details.html",
        {
            "form": form,
            "registration": registration,
            "editable": editable and has_permission(request, "registration.manage"),
            "resubmitting": resubmitting,
            "explanations": rejections.explain(registration.rejection),
        },
        status=400 if form.errors else 200,
    )


def _status_context(request, registration):
    return {
        "registration": registration,
        "stages": selectors.stage_overview(registration),
        "explanations": rejections.explain(registration.rejection),
        "events": selectors.recent_events(registration),
        "can_manage": has_permission(request, "registration.manage"),
        "can_edit_details": services.can_edit_details(registration),
        "version": _version(registration),
        "choosing_number": selectors.is_choosing_number(registration),
    }


def _version(registration) -> str:
    return f"{registration.updated_at.timestamp():.6f}"


@require_permission("registration.view")
def registration_status(request):
    registration = services.registration_for(request.tenant)
    if registration.status == Status.DRAFT:
        return redirect("registration_details")
    return render(request, "a2p/status.html", _status_context(request, registration))


@require_permission("registration.view")
def registration_status_json(request):
    """What the status page polls to update itself within seconds."""
    registration = services.registration_for(request.tenant)
    return JsonResponse(
        {
            "version": _version(registration),
            "stage": registration.stage,
            "status": registration.status,
            "stages": [
                {"stage": view.stage, "state": view.state, "now": view.now}
                for view in selectors.stage_overview(registration)
            ],
            "checked_at": timezone.now().isoformat(),
        }
    )


@require_permission("registration.view")
def registration_number(request):
    organization = request.tenant
    registration = services.registration_for(organization)
    if not selectors.is_choosing_number(registration):
        return redirect("registration")
    search = PhoneNumberSearchForm(request.GET or None)
    numbers, error = [], ""
    if request.method == "POST":
        check_permission(request, "registration.manage")
        try:
            if request.POST.get("action") == "auto":
                services.pick_number_near_business(organization, actor=request.user)
            else:
                choice = PhoneNumberChoiceForm(request.POST)
                if not choice.is_valid():
                    raise services.RegistrationRefused("Choose one of the numbers listed.")
                services.choose_phone_number(
                    organization, choice.cleaned_data["phone_number"], actor=request.user
                )
        except services.RegistrationRefused as exc:
            error = exc.message
        except ProviderError as exc:
            error = _search_failed(exc)
        else:
            messages.success(request, "Getting your number ready…")
            return redirect("registration")
    if search.is_valid():
        try:
            numbers = services.find_numbers(
                registration, area_code=search.cleaned_data["area_code"]
            )
        except ProviderError as exc:
            error = _search_failed(exc)
        if not numbers and not error:
            error = "No numbers are free in that area code right now. Try a nearby one."
    return render(
        request,
        "a2p/number.html",
        {
            "registration": registration,
            "search": search,
            "numbers": numbers,
            "error": error,
            "can_manage": has_permission(request, "registration.manage"),
        },
        status=400 if error else 200,
    )


def _search_failed(error: ProviderError) -> str:
    if isinstance(error, RetryableError):
        return "Twilio could not be reached just now. Try again in a moment."
    return error.plain_reason

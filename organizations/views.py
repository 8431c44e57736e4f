"""Sign-up, sign-in and the workspace home. Views parse input, ask the permission gate and call
services; they hold no business rules."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from organizations import onboarding, services
from organizations.forms import SignInForm, SignUpForm
from organizations.models import Domain, Membership, Organization
from organizations.permissions import public_in_tenant, require_permission
from organizations.signin import (
    InvalidHandoff,
    consume_handoff_token,
    make_handoff_token,
    make_signout_token,
    signout_token_user_id,
)
from smsplatform.http import client_ip

TENANT_URLCONF = settings.ROOT_URLCONF
PUBLIC_URLCONF = settings.PUBLIC_SCHEMA_URLCONF


def _workspace_url(organization, name, query=None):
    url = organization.url + reverse(name, urlconf=TENANT_URLCONF)
    return f"{url}?{urlencode(query)}" if query else url


def _handoff_redirect(user, organization, next_path="/"):
    token = make_handoff_token(user, organization)
    return HttpResponseRedirect(
        _workspace_url(organization, "handoff", {"token": token, "next": next_path})
    )


def _organization_for_url(url):
    """The customer organization whose domain ``url`` points at, or None."""
    host = (urlsplit(url).hostname or "").lower()
    if not host.endswith(f".{settings.BASE_DOMAIN}"):
        return None
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    if domain is None or not domain.tenant.is_customer:
        return None
    return domain.tenant


def _safe_path(request, candidate, default="/"):
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _path_of(url):
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


# --- Public site ---------------------------------------------------------------------------


def landing(request):
    return render(request, "organizations/landing.html", {"form": SignUpForm()})


@require_http_methods(["GET", "POST"])
def sign_up(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization, user = services.sign_up(**form.cleaned_data, ip=client_ip(request))
        except ValidationError as exc:
            field = "email" if exc.code == "email_taken" else "slug"
            form.add_error(field, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return _handoff_redirect(user, organization)
    return render(
        request, "organizations/sign_up.html", {"form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
def sign_in(request):
    next_url = request.POST.get("next") or request.GET.get("next", "")
    organization = _organization_for_url(next_url)
    if request.user.is_authenticated and request.method == "GET":
        if organization is not None:
            return _handoff_redirect(request.user, organization, _path_of(next_url))
        return redirect("workspaces")
    form = SignInForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        if organization is not None:
            return _handoff_redirect(form.user, organization, _path_of(next_url))
        return redirect("workspaces")
    return render(request, "organizations/sign_in.html", {"form": form, "next": next_url})


def complete_sign_in(request):
    """Second leg of signing in on a workspace's own form: sign in on the public site too, so
    that the person can move to their other workspaces without signing in again."""
    next_url = request.GET.get("next", "")
    try:
        user = consume_handoff_token(request.GET.get("token", ""), None)
    except InvalidHandoff:
        user = None
    if user is not None and (not request.user.is_authenticated or request.user.pk != user.pk):
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if _organization_for_url(next_url) is not None:
        return HttpResponseRedirect(next_url)
    return redirect("workspaces")


@require_POST
def sign_out(request):
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("landing")


def single_sign_on(request):
    """A workspace sends anonymous visitors here: if they are signed in on the public site, they
    go back signed in; otherwise to that workspace's own sign-in form."""
    next_url = request.GET.get("next", "")
    organization = _organization_for_url(next_url)
    if organization is None:
        return redirect("landing")
    if request.user.is_authenticated:
        return _handoff_redirect(request.user, organization, _path_of(next_url))
    return HttpResponseRedirect(_workspace_url(organization, "login", {"next": _path_of(next_url)}))


def complete_sign_out(request):
    """Second leg of signing out of a workspace: end the public-site session too, so that the
    next workspace visit does not sign the person straight back in."""
    user_id = signout_token_user_id(request.GET.get("token", ""))
    if user_id is not None and request.user.is_authenticated and request.user.pk == user_id:
        logout(request)
    next_url = request.GET.get("next", "")
    if _organization_for_url(next_url) is not None:
        return HttpResponseRedirect(next_url)
    return redirect("landing")


@login_required
def workspaces(request):
    memberships = (
        Membership.objects.filter(user=request.user, organization__kind=Organization.Kind.CUSTOMER)
        .select_related("organization")
        .order_by("organization__name")
    )
    return render(request, "organizations/workspaces.html", {"memberships": memberships})


@login_required
def open_workspace(request, slug):
    membership = (
        Membership.objects.filter(user=request.user, organization__slug=slug)
        .select_related("organization")
        .first()
    )
    if membership is None:
        raise Http404("No such workspace")
    return _handoff_redirect(request.user, membership.organization)


# --- A workspace (organization's own domain) -------------------------------------------------


@public_in_tenant
def workspace_handoff(request):
    try:
        user = consume_handoff_token(request.GET.get("token", ""), request.tenant)
    except InvalidHandoff as exc:
        messages.error(request, str(exc))
        return redirect("login")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(_safe_path(request, request.GET.get("next")))


@public_in_tenant
@require_http_methods(["GET", "POST"])
def workspace_sign_in(request):
    next_path = _safe_path(request, request.POST.get("next") or request.GET.get("next"))
    form = SignInForm(request.POST or None, request=request, organization=request.tenant)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        complete = reverse("complete_sign_in", urlconf=PUBLIC_URLCONF)
        query = urlencode(
            {
                "token": make_handoff_token(form.user, None),
                "next": request.build_absolute_uri(next_path),
            }
        )
        return HttpResponseRedirect(f"{settings.SITE_URL}{complete}?{query}")
    return render(
        request,
        "organizations/workspace_sign_in.html",
        {"form": form, "next": next_path, "organization": request.tenant},
    )


@public_in_tenant
@require_POST
def workspace_sign_out(request):
    user = request.user
    logout(request)
    login_url = _workspace_url(request.tenant, "login")
    if not user.is_authenticated:
        return HttpResponseRedirect(login_url)
    complete = reverse("complete_sign_out", urlconf=PUBLIC_URLCONF)
    query = urlencode({"token": make_signout_token(user), "next": login_url})
    return HttpResponseRedirect(f"{settings.SITE_URL}{complete}?{query}")


def dashboard(request):
    members = (
        Membership.objects.filter(organization=request.tenant)
        .select_related("user")
        .order_by("role", "user__email")
    )
    from billing import selectors as billing_selectors

    # Read once for both the checklist and the billing banner (which the page then does not
    # read again through the context processor).
    account = billing_selectors.account_with_period(request.tenant)
    return render(
        request,
        "organizations/dashboard.html",
        {
            "members": members,
            "steps": onboarding.getting_started(request, account),
            "billing_banner": billing_selectors.banner_from(account),
        },
    )


@require_permission("members.view")
def members(request):
    memberships = (
        Membership.objects.filter(organization=request.tenant)
        .select_related("user")
        .order_by("user__email")
    )
    return render(request, "organizations/members.html", {"memberships": memberships})


@require_http_methods(["GET", "POST"])
def account_phone(request):
    """The signed-in person verifies their own mobile (for test messages)."""
    from organizations import phone_verification
    from organizations.forms import PhoneCodeForm, PhoneNumberForm

    phone_form = PhoneNumberForm(request.POST if "send_code" in request.POST else None)
    code_form = PhoneCodeForm(request.POST if "confirm" in request.POST else None)
    if phone_form.is_bound and phone_form.is_valid():
        try:
            phone_verification.request_code(request.user, phone_form.cleaned_data["phone"])
        except ValidationError as exc:
            phone_form.add_error(None, exc.messages[0])
        else:
            messages.info(request, f"We texted a code to {phone_form.cleaned_data['phone']}.")
            return redirect("account_phone")
    if code_form.is_bound and code_form.is_valid():
        try:
            phone_verification.confirm(request.user, code_form.cleaned_data["code"])
        except ValidationError as exc:
            code_form.add_error("code", exc.messages[0])
        else:
            messages.success(request, "Your phone is verified. Test messages go there.")
            return redirect("account_phone")
    return render(
        request,
        "organizations/account_phone.html",
        {"phone_form": phone_form, "code_form": code_form},
    )

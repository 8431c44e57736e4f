"""Who sees what on an organization's domain, and how people move between the public site and
their workspaces."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from organizations.signin import make_handoff_token
from tests.conftest import PASSWORD, workspace_client


def tenant_pages():
    """Every page of a workspace that is not explicitly public and takes no URL arguments.
    New pages are covered by the isolation checks below automatically."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                callback = pattern.callback
                view_class = getattr(callback, "view_class", None)
                public = getattr(callback, "tenant_public", False) or getattr(
                    view_class, "tenant_public", False
                )
                route = prefix + str(pattern.pattern)
                if not public and "<" not in route and "(?P" not in route:
                    yield "/" + route.lstrip("^").rstrip("$")

    return sorted(set(walk(get_resolver("smsplatform.urls_tenant").url_patterns)))


def test_the_tenant_page_inventory_is_not_empty():
    assert "/" in tenant_pages()
    assert "/settings/members/" in tenant_pages()


@pytest.mark.parametrize("role", ["acme_owner", "acme_admin", "acme_member"])
def test_every_role_reaches_the_dashboard(acme, users, role):
    response = workspace_client(acme, users[role]).get("/")
    assert response.status_code == 200
    assert b"Welcome to Acme Boutique" in response.content


@pytest.mark.parametrize("path", tenant_pages())
@pytest.mark.parametrize("user_key", ["globex_owner", "outsider", "staff"])
def test_signed_in_non_members_get_404_on_every_page(acme, users, path, user_key):
    response = workspace_client(acme, users[user_key]).get(path)
    assert response.status_code == 404
    assert b"Acme" not in response.content
    assert b"owner@acme.test" not in response.content


@pytest.mark.parametrize("path", tenant_pages())
def test_anonymous_visitors_are_sent_to_sign_in(acme, path):
    response = workspace_client(acme).get(path)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.hostname, target.path) == ("localhost", "/sso/")
    assert parse_qs(target.query)["next"] == [f"http://acme.localhost{path}"]


def test_unknown_hosts_are_404(db, world):
    assert Client(HTTP_HOST="nobody.localhost").get("/").status_code == 404
    # The template schema has no domain: it can never be served.
    assert Client(HTTP_HOST="tenant-template.localhost").get("/").status_code == 404
    assert Client(HTTP_HOST="tenant_template.localhost").get("/").status_code == 404


def test_members_see_only_their_own_organization(acme, globex, users):
    acme_page = workspace_client(acme, users["acme_owner"]).get("/settings/members/")
    globex_page = workspace_client(globex, users["globex_owner"]).get("/settings/members/")
    assert b"member@acme.test" in acme_page.content
    assert b"owner@globex.test" not in acme_page.content
    assert b"owner@globex.test" in globex_page.content
    assert b"acme.test" not in globex_page.content


# --- single sign-on between the public site and workspaces ---------------------------------


def follow_to(client_for_host, response):
    """Follow one redirect with the client that owns the redirect's host."""
    target = urlsplit(response["Location"])
    return client_for_host[target.hostname].get(target.path, parse_qs(target.query))


def test_signed_in_on_the_public_site_reaches_a_workspace_without_signing_in_again(acme, users):
    public = Client(HTTP_HOST="localhost")
    public.force_login(users["acme_member"])
    workspace = workspace_client(acme)
    clients = {"localhost": public, "acme.localhost": workspace}

    to_sso = workspace.get("/settings/members/")
    to_handoff = follow_to(clients, to_sso)
    landed = follow_to(clients, to_handoff)

    assert landed.status_code == 302 and landed["Location"] == "/settings/members/"
    assert workspace.get("/settings/members/").status_code == 200


def test_a_member_of_one_organization_signed_in_elsewhere_gets_404(acme, globex, users):
    public = Client(HTTP_HOST="localhost")
    public.force_login(users["acme_owner"])
    workspace = workspace_client(globex)
    clients = {"localhost": public, "globex.localhost": workspace}

    landed = follow_to(clients, follow_to(clients, workspace.get("/")))

    assert workspace.get(landed["Location"]).status_code == 404


def test_anonymous_visitor_lands_on_the_workspace_sign_in_form(acme):
    workspace = workspace_client(acme)
    clients = {"localhost": Client(HTTP_HOST="localhost"), "acme.localhost": workspace}
    form = follow_to(clients, follow_to(clients, workspace.get("/")))
    assert form.status_code == 200
    assert b"Sign in to Acme Boutique" in form.content


def test_workspace_sign_in_signs_in_on_the_workspace_and_the_public_site(acme, users):
    workspace = workspace_client(acme)
    public = Client(HTTP_HOST="localhost")
    clients = {"localhost": public, "acme.localhost": workspace}

    response = workspace.post(
        "/login/", {"email": "MEMBER@acme.test", "password": PASSWORD, "next": "/settings/members/"}
    )
    back = follow_to(clients, response)

    assert back["Location"] == "http://acme.localhost/settings/members/"
    assert workspace.get("/settings/members/").status_code == 200
    assert public.get("/workspaces/").status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("member@acme.test", "wrong-password", b"do not match an account"),
        ("nobody@acme.test", PASSWORD, b"do not match an account"),
        ("owner@globex.test", PASSWORD, b"not a member of Acme Boutique"),
    ],
)
def test_workspace_sign_in_refusals(acme, world, email, password, message):
    workspace = workspace_client(acme)
    response = workspace.post("/login/", {"email": email, "password": password})
    assert response.status_code == 200
    assert message in response.content
    assert workspace.get("/").status_code == 302  # still signed out


def test_a_handoff_token_works_once_and_only_for_its_organization(acme, globex, users):
    token = make_handoff_token(users["acme_owner"], acme)

    other = workspace_client(globex)
    assert other.get("/auth/handoff/", {"token": token}).status_code == 302
    assert other.get("/").status_code == 302  # not signed in on globex

    first = workspace_client(acme)
    first.get("/auth/handoff/", {"token": token})
    assert first.get("/").status_code == 200

    replay = workspace_client(acme)
    replay.get("/auth/handoff/", {"token": token})
    assert replay.get("/").status_code == 302


def test_forged_and_expired_handoff_tokens_are_refused(acme, users):
    forged = workspace_client(acme)
    forged.get("/auth/handoff/", {"token": "eyJ1IjoxfQ:forged:signature"})
    assert forged.get("/").status_code == 302

    with override_settings(SIGNIN_HANDOFF_MAX_AGE=-1):
        expired = workspace_client(acme)
        expired.get("/auth/handoff/", {"token": make_handoff_token(users["acme_owner"], acme)})
        assert expired.get("/").status_code == 302


def test_handoff_never_redirects_off_site(acme, users):
    token = make_handoff_token(users["acme_owner"], acme)
    response = workspace_client(acme).get(
        "/auth/handoff/", {"token": token, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_signing_out_of_a_workspace_ends_the_public_session_too(acme, users):
    public = Client(HTTP_HOST="localhost")
    public.force_login(users["acme_owner"])
    workspace = workspace_client(acme, users["acme_owner"])
    clients = {"localhost": public, "acme.localhost": workspace}

    to_public = workspace.post("/logout/")
    to_login = follow_to(clients, to_public)

    assert to_login["Location"] == "http://acme.localhost/login/"
    assert public.get("/workspaces/").status_code == 302
    # Visiting the workspace again asks for a password instead of signing straight back in.
    form = follow_to(clients, follow_to(clients, workspace.get("/")))
    assert b"Sign in to Acme Boutique" in form.content


def test_public_workspace_list_shows_only_own_workspaces(users, world):
    public = Client(HTTP_HOST="localhost")
    public.force_login(users["acme_admin"])
    page = public.get("/workspaces/")
    assert b"Acme Boutique" in page.content
    assert b"Globex" not in page.content
    assert public.get("/workspaces/globex/open/").status_code == 404

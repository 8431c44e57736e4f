"""The tenant world, built once per test session: the platform's public and template tenants, two
organizations (acme, globex) and one user per role. Each test then runs inside a transaction that
is rolled back, so tests never see each other's writes.

Tests that need the real processes (web server, Celery worker, provider sandboxes) use the
session-scoped fixtures of tests/live.py; those processes share this test database, so what such
a test creates must be committed (see the ``committed`` fixture).
"""

import os
import shutil
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from organizations import services
from organizations.models import Organization, User
from organizations.roles import Role
from tests.live import *  # noqa: F403 - session fixtures for live processes
from tests.stripe_sandbox import *  # noqa: F403 - the Stripe sandbox, contract check
from tests.twilio_sandbox import *  # noqa: F403 - the Twilio sandbox and the contract check

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class World:
    acme_id: int
    globex_id: int
    users: dict  # key -> user id


def _build_world() -> World:
    services.ensure_platform_tenants()

    def user(email, **extra):
        return User.objects.create_user(email=email, password=PASSWORD, **extra)

    acme_owner = user("owner@acme.test", full_name="Ada Owner")
    globex_owner = user("owner@globex.test", full_name="Gil Owner")
    acme = services.create_organization(name="Acme Boutique", slug="acme", owner=acme_owner)
    globex = services.create_organization(name="Globex Shop", slug="globex", owner=globex_owner)
    acme_admin = user("admin@acme.test", full_name="Alan Admin")
    acme_member = user("member@acme.test", full_name="Mia Member")
    services.add_member(organization=acme, user=acme_admin, role=Role.ADMIN)
    services.add_member(organization=acme, user=acme_member, role=Role.MEMBER)
    staff = user("staff@platform.test", is_staff=True, is_superuser=True)
    outsider = user("nobody@elsewhere.test")
    return World(
        acme_id=acme.pk,
        globex_id=globex.pk,
        users={
            "acme_owner": acme_owner.pk,
            "acme_admin": acme_admin.pk,
            "acme_member": acme_member.pk,
            "globex_owner": globex_owner.pk,
            "staff": staff.pk,
            "outsider": outsider.pk,
        },
    )


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_keepdb, django_db_createdb
):
    """The test database, always. pytest-django creates it only when a collected test is marked
    as using the database; a run of live tests alone (which commit through ``committed``) would
    then talk to the development database."""
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases={"default"},
            keepdb=keepdb,
        )
    assert_test_database()
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=request.config.option.verbose)


def assert_test_database():
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_"), f"refusing to run tests against database {name!r}"


@pytest.fixture(scope="session")
def world(django_db_setup, django_db_blocker) -> World:
    with django_db_blocker.unblock():
        assert_test_database()
        connection.set_schema_to_public()
        existing = Organization.objects.filter(slug="acme").first()
        if existing is None:
            return _build_world()
        # --reuse-db: the world is already there.
        users = {
            key: User.objects.get(email=email).pk
            for key, email in {
                "acme_owner": "owner@acme.test",
                "acme_admin": "admin@acme.test",
                "acme_member": "member@acme.test",
                "globex_owner": "owner@globex.test",
                "staff": "staff@platform.test",
                "outsider": "nobody@elsewhere.test",
            }.items()
        }
        return World(existing.pk, Organization.objects.get(slug="globex").pk, users)


@pytest.fixture(scope="session", autouse=True)
def _remove_this_sessions_uploads():
    """Uploads of a test session go to a temporary folder of its own (settings_test.py)."""
    yield
    media = str(settings.MEDIA_ROOT)
    if os.path.basename(media).startswith("smsplatform-test-"):
        shutil.rmtree(media, ignore_errors=True)


@pytest.fixture(autouse=True)
def _public_schema_after_each_test():
    """A test that switches to a tenant must not leak that schema (or organizations cached by
    host, created in its rolled-back transaction) into the next test."""
    yield
    connection.set_schema_to_public()
    from messaging.webhooks import _organization_and_token
    from organizations.middleware import tenant_for_host

    tenant_for_host.cache_clear()
    _organization_and_token.cache_clear()


@pytest.fixture
def acme(world, db) -> Organization:
    return Organization.objects.get(pk=world.acme_id)


@pytest.fixture
def globex(world, db) -> Organization:
    return Organization.objects.get(pk=world.globex_id)


@pytest.fixture
def users(world, db) -> dict:
    by_id = User.objects.in_bulk(world.users.values())
    return {key: by_id[pk] for key, pk in world.users.items()}


@pytest.fixture
def in_acme(acme):
    """Run the test body inside acme's schema."""
    connection.set_tenant(acme)
    yield acme
    connection.set_schema_to_public()


@pytest.fixture
def public_client(db) -> Client:
    return Client(HTTP_HOST="localhost")


def workspace_client(organization: Organization, user: User | None = None) -> Client:
    client = Client(HTTP_HOST=f"{organization.slug}.localhost")
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def acme_client(acme, users) -> Client:
    """acme's owner, signed in on acme's domain."""
    return workspace_client(acme, users["acme_owner"])

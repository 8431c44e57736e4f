from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django_tenants.utils import schema_exists

from organizations import services
from organizations.models import AuditLog, Domain, Membership, Organization, User
from organizations.roles import Role
from tests.conftest import workspace_client

VALID = {
    "business_name": "Bella Boutique",
    "slug": "bella-boutique",
    "email": "bella@example.com",
    "password": "a-long-and-unusual-passphrase",
}


def sign_up(client, **overrides):
    return client.post("/signup/", {**VALID, **overrides})


def assert_nothing_created(slug=VALID["slug"], email=VALID["email"]):
    assert not Organization.objects.filter(slug=slug).exists()
    assert not schema_exists(services.schema_name_for(slug))
    assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()
    assert not User.objects.filter(email=email).exists()


def test_sign_up_creates_the_organization_its_schema_domain_and_owner(public_client, world):
    response = sign_up(public_client)

    organization = Organization.objects.get(slug="bella-boutique")
    assert organization.name == "Bella Boutique"
    assert organization.schema_name == "bella_boutique"
    assert schema_exists("bella_boutique")
    assert organization.domains.get().domain == "bella-boutique.localhost"
    owner = User.objects.get(email="bella@example.com")
    assert owner.check_password(VALID["password"])
    assert Membership.objects.get(organization=organization, user=owner).role == Role.OWNER
    assert AuditLog.objects.filter(
        organization=organization, action="organization.created"
    ).exists()

    # The browser is sent to the new workspace's own domain, signed in.
    target = urlsplit(response["Location"])
    assert (target.hostname, target.path) == ("bella-boutique.localhost", "/auth/handoff/")
    workspace = workspace_client(organization)
    landed = workspace.get(target.path, parse_qs(target.query), follow=True)
    assert landed.status_code == 200
    assert b"Welcome to Bella Boutique" in landed.content


def test_new_schema_is_a_full_tenant_schema_cloned_from_the_template(public_client, world):
    sign_up(public_client)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            ["tenant_template"],
        )
        template_tables = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            ["bella_boutique"],
        )
        new_tables = {row[0] for row in cursor.fetchall()}
    assert "django_migrations" in new_tables
    assert new_tables == template_tables


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"slug": "acme"}, "slug", "already taken"),
        ({"slug": "ACME"}, "slug", "already taken"),
        ({"slug": "www"}, "slug", "reserved"),
        ({"slug": "admin"}, "slug", "reserved"),
        ({"slug": "api"}, "slug", "reserved"),
        ({"slug": "app"}, "slug", "reserved"),
        ({"slug": "static"}, "slug", "reserved"),
        ({"slug": "tenant-template"}, "slug", "reserved"),
        ({"slug": "pg-catalog"}, "slug", "reserved"),
        ({"slug": "ab"}, "slug", "3 to 40"),
        ({"slug": "bella boutique"}, "slug", "3 to 40"),
        ({"slug": "bella_boutique"}, "slug", "3 to 40"),
        ({"slug": "-bella"}, "slug", "3 to 40"),
        ({"slug": "bella-"}, "slug", "3 to 40"),
        ({"slug": "bella--b"}, "slug", "3 to 40"),
        ({"slug": "9lives"}, "slug", "3 to 40"),
        ({"slug": "bélla"}, "slug", "3 to 40"),
        ({"slug": "x" * 41}, "slug", "at most 40"),
        ({"slug": ""}, "slug", "required"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"email": "owner@acme.test"}, "email", "already exists"),
        ({"password": "short1!"}, "password", "too short"),
        ({"password": "password123"}, "password", "too common"),
        ({"password": "83920174651"}, "password", "entirely numeric"),
        ({"password": "bella@example.com"}, "password", "too similar"),
        ({"business_name": " "}, "business_name", "required"),
    ],
)
def test_bad_sign_up_input_gets_a_clear_error_and_creates_nothing(
    public_client, world, overrides, field, message
):
    organizations_before = Organization.objects.count()

    response = sign_up(public_client, **overrides)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert message.encode() in response.content
    assert Organization.objects.count() == organizations_before
    if overrides.get("email") != "owner@acme.test":
        assert_nothing_created(email=overrides.get("email", VALID["email"]))


def test_a_failure_halfway_through_leaves_no_row_and_no_schema(public_client, world, monkeypatch):
    def broken_domain_create(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Domain.objects, "create", broken_domain_create)
    owner = User.objects.create_user(email="x@example.com", password=VALID["password"])

    with pytest.raises(RuntimeError):
        services.create_organization(name="Half", slug="half-made", owner=owner)

    assert not Organization.objects.filter(slug="half-made").exists()
    assert not schema_exists("half_made")


def test_losing_a_race_for_the_same_slug_is_reported_as_taken(world, users, monkeypatch):
    # The form's check passed for both visitors; the database's unique constraint decides.
    monkeypatch.setattr(services, "validate_new_slug", services.validate_slug_format)
    with pytest.raises(services.ValidationError) as excinfo:
        services.create_organization(name="Acme Again", slug="acme", owner=users["outsider"])
    assert excinfo.value.code == "taken"
    assert Organization.objects.filter(slug="acme").count() == 1


def test_schema_names_cannot_collide_for_distinct_slugs():
    assert services.schema_name_for("a-b") == "a_b"
    with pytest.raises(services.ValidationError):
        services.validate_slug_format("a_b")

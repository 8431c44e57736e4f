"""The pool of spare schemas that makes sign-up fast however many organizations exist."""

import pytest
from django.db import connection
from django_tenants.utils import schema_exists

from organizations import services
from organizations.models import Organization
from organizations.tasks import replenish_spare_schemas


def tables_of(schema):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def spares():
    return list(Organization.objects.filter(kind=Organization.Kind.SPARE).order_by("created_at"))


def test_replenishing_fills_the_pool_up_to_its_size_and_no_further(db, world):
    assert services.replenish_spare_schemas(target=2) == 2
    assert services.replenish_spare_schemas(target=2) == 0
    pool = spares()
    assert len(pool) == 2
    assert all(tables_of(spare.schema_name) == tables_of("tenant_template") for spare in pool)


def test_a_sign_up_takes_the_oldest_spare_and_renames_it(
    world, users, django_capture_on_commit_callbacks
):
    services.replenish_spare_schemas(target=2)
    oldest, newer = spares()

    with django_capture_on_commit_callbacks() as callbacks:
        organization = services.create_organization(
            name="Quick Shop", slug="quick-shop", owner=users["outsider"]
        )

    assert organization.pk == oldest.pk
    assert organization.kind == Organization.Kind.CUSTOMER
    assert organization.schema_name == "quick_shop"
    assert schema_exists("quick_shop") and not schema_exists(oldest.schema_name)
    assert tables_of("quick_shop") == tables_of("tenant_template")
    assert organization.domains.get().domain == "quick-shop.localhost"
    assert [spare.pk for spare in spares()] == [newer.pk]
    # The pool is topped up again once the sign-up has committed.
    assert [callback.__self__.name for callback in callbacks] == [replenish_spare_schemas.name]


def test_without_spares_a_sign_up_clones_the_template(world, users):
    assert spares() == []
    organization = services.create_organization(
        name="Slow Shop", slug="slow-shop", owner=users["outsider"]
    )
    assert tables_of(organization.schema_name) == tables_of("tenant_template")


@pytest.mark.parametrize("slug", ["spare-shop", "spare-0a1b2c3d4e5f"])
def test_spare_names_cannot_be_taken_by_customers(slug):
    with pytest.raises(services.ValidationError) as excinfo:
        services.validate_slug_format(slug)
    assert excinfo.value.code == "reserved"


def test_spare_schemas_are_never_served(db, world, client):
    services.replenish_spare_schemas(target=1)
    (spare,) = spares()
    assert client.get("/", HTTP_HOST=f"{spare.slug}.localhost").status_code == 404
    assert spare not in Organization.objects.customers()


def test_the_replenish_task_does_not_run_twice_at_once(db, world, settings):
    from django.core.cache import cache

    settings.TENANT_SPARE_SCHEMAS = 1
    cache.add("lock:replenish-spare-schemas", 1, timeout=60)
    try:
        assert replenish_spare_schemas.apply().get() == 0
        assert spares() == []
    finally:
        cache.delete("lock:replenish-spare-schemas")
    assert replenish_spare_schemas.apply().get() == 1
    assert len(spares()) == 1

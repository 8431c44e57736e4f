"""A new organization's schema is a clone of the template: its constraints and indexes must keep
the template's names, or a later migration that finds one by name fails in that schema."""

import pytest
from django.db import connection, transaction
from django_tenants.clone import CloneSchema

from messaging.models import Message
from organizations import services
from organizations.schema_names import restore_constraint_names

TEMPLATE = "tenant_template"


def names_in(schema):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 'constraint', t.relname, c.conname FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = %(schema)s
            UNION ALL
            SELECT 'index', tablename, indexname FROM pg_indexes WHERE schemaname = %(schema)s
            """,
            {"schema": schema},
        )
        return set(cursor.fetchall())


def test_an_organization_cloned_from_the_template_has_its_names(world, users):
    organization = services.create_organization(
        name="Clone Shop", slug="clone-shop", owner=users["outsider"]
    )
    template = names_in(TEMPLATE)
    assert ("constraint", "messaging_message", "message_sid_unique") in template
    assert names_in(organization.schema_name) == template


def test_an_organization_from_a_spare_schema_has_the_template_names(world, users):
    services.replenish_spare_schemas(target=1)
    organization = services.create_organization(
        name="Pooled Shop", slug="pooled-shop", owner=users["outsider"]
    )
    assert names_in(organization.schema_name) == names_in(TEMPLATE)


def test_a_migration_drops_a_unique_constraint_by_name_in_a_new_organization(world, users):
    organization = services.create_organization(
        name="Deploy Shop", slug="deploy-shop", owner=users["outsider"]
    )
    (constraint,) = [c for c in Message._meta.constraints if c.name == "message_sid_unique"]
    connection.set_tenant(organization)
    try:
        with pytest.raises(_RolledBack), transaction.atomic():
            with connection.schema_editor(atomic=False) as editor:
                editor.remove_constraint(Message, constraint)
            raise _RolledBack
    finally:
        connection.set_schema_to_public()


class _RolledBack(Exception):
    """Raised to roll the dropped constraint back: the test only asks whether it can be."""


@pytest.mark.django_db
def test_a_schema_cloned_before_the_fix_gets_the_template_names_back(world):
    CloneSchema().clone_schema(TEMPLATE, "old_clone")
    renamed_by_the_clone = names_in(TEMPLATE) - names_in("old_clone")
    assert ("constraint", "messaging_message", "message_sid_unique") in renamed_by_the_clone

    assert restore_constraint_names(TEMPLATE, "old_clone") == len(renamed_by_the_clone) // 2

    assert names_in("old_clone") == names_in(TEMPLATE)
    assert restore_constraint_names(TEMPLATE, "old_clone") == 0

"""The database backend switches schemas with as few SET search_path as it can, and never
leaves a query in the wrong schema."""

import pytest
from django.db import connection, connections, transaction
from django_tenants.utils import tenant_context

from messaging.models import Contact
from messaging.services import Consent, create_contact


def _search_path_sets(run) -> int:
    """How many SET search_path ``run`` sends to the server."""
    sent = []

    def watch(execute, sql, params, many, context):
        if sql.startswith("SET search_path"):
            sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        run()
    return len(sent)


def _count_in(organization):
    with tenant_context(organization):
        return Contact.objects.count()


def test_returning_to_the_schema_the_session_has_sends_no_set(acme):
    _count_in(acme)

    def twice():
        _count_in(acme)
        connection.set_schema_to_public()  # switched away, no query: the session keeps acme's
        _count_in(acme)

    assert _search_path_sets(twice) == 0
    assert _search_path_sets(lambda: (_count_in(acme), _count_in(acme))) == 0


def test_another_schema_still_gets_its_set(acme, globex):
    _count_in(acme)
    assert _search_path_sets(lambda: _count_in(globex)) == 1
    assert _search_path_sets(lambda: _count_in(acme)) == 1


@pytest.fixture
def one_contact_each(acme, globex):
    consent = Consent(method="manual", source="test")
    with tenant_context(acme):
        create_contact(phone="+13055550101", first_name="Ann", consent=consent)
    with tenant_context(globex):
        create_contact(phone="+13055550102", first_name="Gus", consent=consent)


def _first_names(organization):
    with tenant_context(organization):
        return list(Contact.objects.values_list("first_name", flat=True))


def test_a_rolled_back_switch_is_set_again(acme, globex, one_contact_each):
    assert _first_names(acme) == ["Ann"]
    # globex's path is set inside a savepoint that is rolled back: PostgreSQL undoes the SET,
    # so the session is back on acme's path although the backend had set globex's.
    with pytest.raises(RuntimeError), transaction.atomic():
        assert _first_names(globex) == ["Gus"]
        raise RuntimeError
    assert _first_names(globex) == ["Gus"]
    assert _first_names(acme) == ["Ann"]


def test_a_new_connection_is_set_again(globex):
    other = connections.create_connection("default")  # outside the test's transaction
    try:
        other.set_tenant(globex)

        def count():
            with other.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM messaging_contact")

        def sets():
            sent = []
            with other.execute_wrapper(lambda run, sql, *args: sent.append(sql) or run(sql, *args)):
                count()
            return sum(sql.startswith("SET search_path") for sql in sent)

        assert sets() == 1
        assert sets() == 0
        other.close()  # the server session, and its path, are gone
        assert sets() == 1
    finally:
        other.close()


_NAMES_BY_PHONE = "SELECT first_name FROM messaging_contact WHERE phone LIKE %(prefix)s"


def _prepared_first_names(organization):
    with tenant_context(organization), connection.prepared_cursor() as cursor:
        cursor.execute(_NAMES_BY_PHONE, {"prefix": "+1305%"})
        return [name for (name,) in cursor.fetchall()]


def _is_prepared(sql) -> bool:
    """Whether this connection holds ``sql`` as a prepared statement (as the server has it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s",
            [sql.replace("%(prefix)s", "$1")],
        )
        return cursor.fetchone()[0] > 0


def test_a_statement_run_often_is_prepared_and_stays_in_each_organizations_schema(
    acme, globex, one_contact_each
):
    assert not _is_prepared(_NAMES_BY_PHONE)
    for _ in range(4):
        assert _prepared_first_names(acme) == ["Ann"]
        assert _prepared_first_names(globex) == ["Gus"]
    # Prepared once on this connection, and the one statement still reads each organization's
    # own table: PostgreSQL plans it again under the other search_path.
    assert _is_prepared(_NAMES_BY_PHONE)
    assert _prepared_first_names(globex) == ["Gus"]
    assert _prepared_first_names(acme) == ["Ann"]
    assert _prepared_first_names(globex) == ["Gus"]


def test_django_cursors_keep_binding_parameters_on_the_client(acme, one_contact_each):
    with tenant_context(acme):
        for _ in range(6):
            with connection.cursor() as cursor:
                cursor.execute(_NAMES_BY_PHONE, {"prefix": "+1305%"})
    assert not _is_prepared(_NAMES_BY_PHONE)

"""django-tenants' backend, minus a redundant round trip.

django-tenants issues ``SET search_path`` on the first query after every schema switch, and
every request or task switches at least twice (public → organization → public). A connection
that already has the wanted path (the same organization's next status callback, page or task
on a persistent connection) needs no SET: this backend remembers the path the session really
has and skips the statement when nothing would change. It forgets it whenever PostgreSQL may
have undone it (a rollback, a failed SET, a new connection), so the worst case is the SET
django-tenants would have issued anyway.

It also offers ``prepared_cursor()`` for the few statements that hot paths run thousands of
times a second (see there).
"""

from django.db.backends.postgresql.base import ServerBindingCursor
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args, **kwargs):
        self.session_search_path = None  # what the server session has, when we know it
        self._binding_on_server = False
        super().__init__(*args, **kwargs)

    def prepared_cursor(self):
        """A cursor that sends its parameters apart from the statement (server-side binding),
        so that psycopg prepares a statement once this connection has run it a few times
        (``prepare_threshold``) and PostgreSQL parses and plans it once per connection rather
        than on every call: about 30% of PostgreSQL's CPU during a campaign went to parsing and
        planning statements, most of them the status callbacks' (measured). Django's own
        cursors keep client-side binding, which some ORM SQL needs.

        Prepared statements are safe across organizations: PostgreSQL plans again when the
        search_path differs from the one the plan was made under. They need a direct connection
        or a pooler that keeps them (PgBouncer 1.21+ with max_prepared_statements)."""
        self._binding_on_server = True
        try:
            return self.cursor()
        finally:
            self._binding_on_server = False

    def create_cursor(self, name=None):
        if name or not self._binding_on_server:
            return super().create_cursor(name)
        factory = self.connection.cursor_factory
        self.connection.cursor_factory = ServerBindingCursor
        try:
            return super().create_cursor(name)
        finally:
            self.connection.cursor_factory = factory

    def _handle_search_path(self, cursor=None):
        if not self._setting_search_path and not self.search_path_set_schemas:
            wanted = self._get_cursor_search_paths()
            if wanted == self.session_search_path:
                self.search_path_set_schemas = wanted
                return
        super()._handle_search_path(cursor)
        self.session_search_path = self.search_path_set_schemas

    def close(self):
        self.session_search_path = None
        super().close()

    def rollback(self):
        # A SET issued in the aborted transaction is undone with it.
        self.session_search_path = None
        super().rollback()

    def savepoint_rollback(self, sid):
        try:
            super().savepoint_rollback(sid)
        finally:
            self.session_search_path = None

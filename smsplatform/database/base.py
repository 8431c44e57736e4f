"""django-tenants' backend, minus a redundant round trip.

django-tenants issues ``SET search_path`` on the first query after every schema switch, and
every request or task switches at least twice (public → organization → public). A connection
that already has the wanted path (the same organization's next status callback, page or task
on a persistent connection) needs no SET: this backend remembers the path the session really
has and skips the statement when nothing would change. It forgets it whenever PostgreSQL may
have undone it (a rollback, a failed SET, a new connection), so the worst case is the SET
django-tenants would have issued anyway.
"""

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args, **kwargs):
        self.session_search_path = None  # what the server session has, when we know it
        super().__init__(*args, **kwargs)

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

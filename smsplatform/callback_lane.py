"""Twilio's status callbacks, straight to their handler.

A campaign brings two signed callbacks per message ("sent", "delivered"): at 450 messages/s,
900 requests/s, more than all other traffic together. Django's full request cycle costs each
about twice the handler itself: the session, auth, CSRF and messages middleware (a signed
webhook uses none of them), URL resolution, and a health-check query on the connection before
every request. This WSGI lane sends ``POST /webhooks/twilio/status/<organization>/`` on the
public site straight to ``answer_status_callback``, the same function the Django view calls:
the same Host check (ALLOWED_HOSTS, public site only), signature check, storage and answers.
Everything else, including a callback URL on a workspace host or any other method, goes to
Django unchanged.

Without the per-request health check, a connection PostgreSQL dropped since the last request
is found by the callback's own statement; the callback is idempotent, so it is answered again
on a new connection.
"""

import logging
import re
import time

from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import InterfaceError, OperationalError, connection
from django_tenants.utils import get_public_schema_name, remove_www

from messaging.webhooks import answer_status_callback
from organizations.middleware import tenant_for_host

logger = logging.getLogger("django.request")

_PATH = re.compile(r"/webhooks/twilio/status/(\d+)/")


class StatusCallbackLane:
    def __init__(self, django_application):
        self.django_application = django_application

    def __call__(self, environ, start_response):
        match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_application(environ, start_response)
        request = WSGIRequest(environ)
        if not _on_public_site(request):
            return self.django_application(environ, start_response)
        try:
            response = _answer(request, int(match[1]))
        except Exception:
            logger.exception("Internal Server Error: %s", request.path, extra={"request": request})
            signals.got_request_exception.send(sender=None, request=request)
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        finally:
            _release_connection()
        body = response.content
        headers = [*response.items(), ("Content-Length", str(len(body)))]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [body]


def _on_public_site(request) -> bool:
    """Whether Django would route this request to the public site's URLs (where the callback
    URL lives). A host outside ALLOWED_HOSTS is left to Django to refuse."""
    try:
        hostname = remove_www(request.get_host().split(":")[0]).lower()
    except DisallowedHost:
        return False
    tenant = tenant_for_host(hostname)
    return tenant is not None and tenant.schema_name == get_public_schema_name()


def _answer(request, organization_id):
    connection.set_schema_to_public()  # as the tenant middleware does; no query until needed
    try:
        return answer_status_callback(request, organization_id)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("Status callback: database connection lost, answering on a new one")
        connection.close()
        connection.set_schema_to_public()
        return answer_status_callback(request, organization_id)


def _release_connection():
    """What the end of a Django request does for the connection: close it if it broke, was
    left outside autocommit or outlived CONN_MAX_AGE; otherwise keep it for the next request."""
    if connection.connection is None:
        return
    if (
        connection.errors_occurred
        or connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]
        or (connection.close_at is not None and time.monotonic() >= connection.close_at)
    ):
        connection.close()

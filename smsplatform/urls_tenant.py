"""URLs of an organization's own domain (<slug>.<base domain>)."""

from django.urls import include, path

from smsplatform.health import healthz

urlpatterns = [
    path("", include("organizations.urls")),
    path("", include("messaging.urls")),
    path("", include("billing.urls")),
    path("", include("a2p.urls")),
    path("healthz", healthz, name="healthz"),
]

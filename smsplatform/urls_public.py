"""URLs of the public site: landing and sign-up, sign-in, the support console, health, and the
provider webhooks (which arrive with no tenant attached)."""

from django.contrib import admin
from django.urls import include, path

from messaging.webhooks import twilio_inbound, twilio_status_callback
from smsplatform.health import healthz

urlpatterns = [
    path("", include("organizations.urls_public")),
    path("", include("messaging.urls_public")),
    path("", include("billing.urls_public")),
    path("", include("a2p.urls_public")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path(
        "webhooks/twilio/status/<int:organization_id>/",
        twilio_status_callback,
        name="twilio_status_callback",
    ),
    path("webhooks/twilio/inbound/", twilio_inbound, name="twilio_inbound"),
]

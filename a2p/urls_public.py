"""Twilio's webhooks about registrations, on the public site (no tenant host)."""

from django.urls import path

from a2p import webhooks

urlpatterns = [
    path(
        "webhooks/twilio/a2p/trusthub/<int:organization_id>/",
        webhooks.trusthub_status_callback,
        name="a2p_trusthub_callback",
    ),
    path(
        "webhooks/twilio/a2p/events/<int:organization_id>/",
        webhooks.event_streams_webhook,
        name="a2p_event_streams",
    ),
]

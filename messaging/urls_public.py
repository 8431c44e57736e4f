"""Messaging addresses on the public site (fetched by phones and by Twilio)."""

from django.urls import path

from messaging.views import public

urlpatterns = [
    path("c/<slug:slug>.vcf", public.contact_card, name="contact_card"),
    path("media/<slug:schema>/<path:path>", public.organization_media, name="organization_media"),
]

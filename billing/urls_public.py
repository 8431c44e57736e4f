"""Billing on the public site: Stripe's webhook arrives with no tenant attached."""

from django.urls import path

from billing import views

urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]

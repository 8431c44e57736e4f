"""The registration's pages, on the organization's own domain."""

from django.urls import path

from a2p import views

urlpatterns = [
    path("registration/", views.registration_status, name="registration"),
    path("registration/details/", views.registration_details, name="registration_details"),
    path("registration/number/", views.registration_number, name="registration_number"),
    path("registration/status.json", views.registration_status_json, name="registration_json"),
]

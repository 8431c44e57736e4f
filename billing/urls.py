from django.urls import path

from billing import views

urlpatterns = [
    path("billing/", views.billing, name="billing"),
    path("billing/plans/", views.plans, name="billing_plans"),
    path("billing/checkout/<slug:code>/", views.checkout, name="billing_checkout"),
    path("billing/checkout-done/", views.checkout_done, name="billing_checkout_done"),
    path("billing/checkout-status/", views.checkout_status, name="billing_checkout_status"),
    path("billing/portal/", views.portal, name="billing_portal"),
    path("billing/plan/", views.change_plan, name="billing_change_plan"),
    path("billing/cancel/", views.cancel, name="billing_cancel"),
    path("billing/resume/", views.resume, name="billing_resume"),
    path("billing/overage/", views.overage, name="billing_overage"),
]

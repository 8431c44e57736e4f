from django.urls import path

from organizations import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.workspace_sign_in, name="login"),
    path("logout/", views.workspace_sign_out, name="logout"),
    path("auth/handoff/", views.workspace_handoff, name="handoff"),
    path("settings/members/", views.members, name="members"),
    path("account/phone/", views.account_phone, name="account_phone"),
]

from django.urls import path

from organizations import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.sign_up, name="signup"),
    path("login/", views.sign_in, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("sso/", views.single_sign_on, name="sso"),
    path("signin/complete/", views.complete_sign_in, name="complete_sign_in"),
    path("signout/", views.complete_sign_out, name="complete_sign_out"),
    path("workspaces/", views.workspaces, name="workspaces"),
    path("workspaces/<slug:slug>/open/", views.open_workspace, name="open_workspace"),
]

"""Mounted at /accounts/ (studio/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:token_id>/revoke", views.token_revoke, name="token_revoke"),
    path("users/", views.user_list, name="user_list"),
]

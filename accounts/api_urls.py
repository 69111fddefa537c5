"""Mounted at /api/v1/ (studio/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("tokens", api.TokenListApi.as_view(), name="api_tokens"),
    path("tokens/<int:token_id>", api.TokenDetailApi.as_view(), name="api_token"),
    path("users", api.UserListApi.as_view(), name="api_users"),
]

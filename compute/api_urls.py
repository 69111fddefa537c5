"""Mounted at /api/v1/workspaces/<workspace>/ (studio/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("computes", api.ComputeListApi.as_view(), name="api_computes"),
    path("computes/<str:name>", api.ComputeDetailApi.as_view(), name="api_compute"),
]

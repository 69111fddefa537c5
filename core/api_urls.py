"""Mounted at /api/v1/ (studio/urls.py): the API's own description."""

from django.urls import path

from . import views

urlpatterns = [
    path("schema", views.SchemaView.as_view(), name="api_schema"),
    path("docs", views.DocsView.as_view(url_name="api_schema"), name="api_docs"),
]

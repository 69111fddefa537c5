"""Mounted at /workspaces/<workspace>/jobs/ (studio/urls.py)."""

from django.urls import path

from . import streams, views

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("submit/", views.job_create, name="job_create"),
    path("<str:name>/", views.job_detail, name="job_detail"),
    path("<str:name>/stream", streams.job_stream, name="job_stream"),
    path("<str:name>/cancel", views.job_cancel, name="job_cancel"),
    path("<str:name>/log", views.job_log_download, name="job_log_download"),
    path("<str:name>/download", views.job_file_download, name="job_file_download"),
]

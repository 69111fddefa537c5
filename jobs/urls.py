"""Mounted at /workspaces/<workspace>/jobs/ (studio/urls.py)."""

from django.urls import path

from . import streams, views

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("events", streams.job_list_stream, name="job_list_stream"),
    path("submit/", views.job_create, name="job_create"),
    path("compare/", views.job_compare, name="job_compare"),
    path("archive", views.job_archive_selected, name="job_archive_selected"),
    path("<str:name>/", views.job_detail, name="job_detail"),
    path("<str:name>/stream", streams.job_stream, name="job_stream"),
    path("<str:name>/events", streams.job_status_stream, name="job_status_stream"),
    path("<str:name>/cancel", views.job_cancel, name="job_cancel"),
    path("<str:name>/archive", views.job_archive, name="job_archive"),
    path("<str:name>/restore", views.job_archive, {"restore": True}, name="job_restore"),
    path("<str:name>/log", views.job_log_download, name="job_log_download"),
    path("<str:name>/download", views.job_file_download, name="job_file_download"),
    path("<str:name>/image", views.job_image, name="job_image"),
    path("<str:name>/register-model", views.job_register_model, name="job_register_model"),
]

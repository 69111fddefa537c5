"""Mounted at /api/v1/workspaces/<workspace>/ (studio/urls.py)."""

from django.urls import path

from . import api, streams

urlpatterns = [
    path("jobs", api.JobListApi.as_view(), name="api_jobs"),
    path("jobs/<str:name>", api.JobDetailApi.as_view(), name="api_job"),
    path("jobs/<str:name>/cancel", api.JobCancelApi.as_view(), name="api_job_cancel"),
    path("jobs/<str:name>/archive", api.JobArchiveApi.as_view(), name="api_job_archive"),
    path("jobs/<str:name>/restore", api.JobRestoreApi.as_view(), name="api_job_restore"),
    path("jobs/<str:name>/log", api.JobLogApi.as_view(), name="api_job_log"),
    path("jobs/<str:name>/files", api.JobFilesApi.as_view(), name="api_job_files"),
    path("jobs/<str:name>/files/content", api.JobFileContentApi.as_view(), name="api_job_file_content"),
    path("jobs/<str:name>/stream", streams.job_stream_api, name="api_job_stream"),
]

"""Mounted at /api/v1/workspaces/<workspace>/ (studio/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("data", api.DataListApi.as_view(), name="api_data_list"),
    path("data/uploads", api.UploadListApi.as_view(), name="api_data_uploads"),
    path("data/uploads/<uuid:upload_id>", api.UploadApi.as_view(), name="api_data_upload"),
    path("data/<str:name>", api.DataLatestApi.as_view(), name="api_data_latest"),
    path("data/<str:name>/versions", api.DataVersionListApi.as_view(), name="api_data_versions"),
    path("data/<str:name>/versions/<str:version>", api.DataVersionApi.as_view(), name="api_data_version"),
    path("data/<str:name>/versions/<str:version>/archive", api.DataArchiveApi.as_view(), name="api_data_archive"),
    path("data/<str:name>/versions/<str:version>/restore", api.DataRestoreApi.as_view(), name="api_data_restore"),
    path("data/<str:name>/versions/<str:version>/files", api.DataFilesApi.as_view(), name="api_data_files"),
    path(
        "data/<str:name>/versions/<str:version>/files/content",
        api.DataFileContentApi.as_view(),
        name="api_data_file_content",
    ),
]

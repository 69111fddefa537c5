"""Mounted at /api/v1/workspaces/<workspace>/ (studio/urls.py)."""

from django.urls import path

from assets.versioning_views import archive_api_paths

from . import api

urlpatterns = [
    path("data", api.DataListApi.as_view(), name="api_data_list"),
    path("data/uploads", api.UploadListApi.as_view(), name="api_data_uploads"),
    path("data/uploads/<uuid:upload_id>", api.UploadApi.as_view(), name="api_data_upload"),
    path("data/<str:name>", api.DataLatestApi.as_view(), name="api_data_latest"),
    path("data/<str:name>/versions", api.DataVersionListApi.as_view(), name="api_data_versions"),
    path("data/<str:name>/versions/<str:version>", api.DataVersionApi.as_view(), name="api_data_version"),
    *archive_api_paths(api.DataArchiveApi, prefix="data", name="api_data"),
    path("data/<str:name>/versions/<str:version>/files", api.DataFilesApi.as_view(), name="api_data_files"),
    path(
        "data/<str:name>/versions/<str:version>/files/content",
        api.DataFileContentApi.as_view(),
        name="api_data_file_content",
    ),
]

from django.urls import path

from assets.versioning_views import archive_api_paths

from . import api

urlpatterns = [
    path("models", api.ModelListApi.as_view(), name="api_models"),
    path("models/<str:name>/versions", api.ModelVersionListApi.as_view(), name="api_model_versions"),
    path("models/<str:name>/versions/<str:version>", api.ModelDetailApi.as_view(), name="api_model"),
    *archive_api_paths(api.ModelArchiveApi, prefix="models", name="api_model"),
    path("models/<str:name>/versions/<str:version>/files", api.ModelFilesApi.as_view(), name="api_model_files"),
    path(
        "models/<str:name>/versions/<str:version>/files/content",
        api.ModelFileContentApi.as_view(),
        name="api_model_file_content",
    ),
]

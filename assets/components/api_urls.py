from django.urls import path

from assets.versioning_views import archive_api_paths

from . import api

_VERSION = "components/<str:name>/versions/<str:version>"

urlpatterns = [
    path("components", api.ComponentListApi.as_view(), name="api_components"),
    path("components/<str:name>/versions", api.ComponentVersionListApi.as_view(), name="api_component_versions"),
    path(_VERSION, api.ComponentDetailApi.as_view(), name="api_component"),
    *archive_api_paths(api.ComponentArchiveApi, prefix="components", name="api_component"),
    path(f"{_VERSION}/files", api.ComponentFilesApi.as_view(), name="api_component_files"),
    path(f"{_VERSION}/files/content", api.ComponentFileContentApi.as_view(), name="api_component_file_content"),
]

"""Mounted at /api/v1/workspaces/<workspace>/ (studio/urls.py)."""

from django.urls import path

from assets.versioning_views import archive_api_paths

from . import api

_VERSION = "environments/<str:name>/versions/<str:version>"

urlpatterns = [
    path("environments", api.EnvironmentListApi.as_view(), name="api_environments"),
    path("environments/<str:name>/versions", api.EnvironmentVersionListApi.as_view(), name="api_environment_versions"),
    path(_VERSION, api.EnvironmentVersionApi.as_view(), name="api_environment_version"),
    *archive_api_paths(api.EnvironmentArchiveApi, prefix="environments", name="api_environment"),
    path(f"{_VERSION}/build", api.EnvironmentBuildApi.as_view(), name="api_environment_build"),
    path(f"{_VERSION}/build-log", api.EnvironmentBuildLogApi.as_view(), name="api_environment_build_log"),
]

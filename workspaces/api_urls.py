"""Mounted at /api/v1/ (studio/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("workspaces", api.WorkspaceListApi.as_view(), name="api_workspaces"),
    path("workspaces/<str:workspace>", api.WorkspaceDetailApi.as_view(), name="api_workspace"),
    path("workspaces/<str:workspace>/datastores", api.DatastoreListApi.as_view(), name="api_datastores"),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>", api.DatastoreDetailApi.as_view(), name="api_datastore"
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/files",
        api.DatastoreFilesApi.as_view(),
        name="api_datastore_files",
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/files/content",
        api.DatastoreFileContentApi.as_view(),
        name="api_datastore_file_content",
    ),
    path("workspaces/<str:workspace>/members", api.MemberListApi.as_view(), name="api_members"),
    path("workspaces/<str:workspace>/members/<str:username>", api.MemberDetailApi.as_view(), name="api_member"),
]

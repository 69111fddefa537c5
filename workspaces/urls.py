"""Mounted at / (studio/urls.py): Home and the workspaces' own pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/", views.workspace_list, name="workspace_list"),
    path("workspaces/<str:workspace>/", views.workspace_home, name="workspace_home"),
    path("workspaces/<str:workspace>/settings/", views.workspace_settings, name="workspace_settings"),
    path("workspaces/<str:workspace>/members/", views.member_list, name="member_list"),
    path("workspaces/<str:workspace>/members/<str:username>/", views.member_update, name="member_update"),
    path("workspaces/<str:workspace>/datastores/", views.datastore_list, name="datastore_list"),
    path("workspaces/<str:workspace>/datastores/new/", views.datastore_register, name="datastore_register"),
    path("workspaces/<str:workspace>/datastores/<str:datastore>/", views.datastore_detail, name="datastore_detail"),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/upload", views.datastore_upload, name="datastore_upload"
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/download",
        views.datastore_download,
        name="datastore_download",
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/preview",
        views.datastore_preview,
        name="datastore_preview",
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/delete",
        views.datastore_delete_path,
        name="datastore_delete_path",
    ),
    path(
        "workspaces/<str:workspace>/datastores/<str:datastore>/unregister",
        views.datastore_unregister,
        name="datastore_unregister",
    ),
]

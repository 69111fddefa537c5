"""Mounted at /workspaces/<workspace>/data/ (studio/urls.py)."""

from django.urls import path

from assets.versioning_views import archive_paths

from . import views

urlpatterns = [
    path("", views.data_list, name="data_list"),
    path("create/", views.data_create, name="data_create"),
    path("<str:name>/", views.data_latest, name="data_latest"),
    path("<str:name>/<str:version>/", views.data_detail, name="data_detail"),
    path("<str:name>/<str:version>/explore/", views.data_detail, {"tab": "explore"}, name="data_explore"),
    path("<str:name>/<str:version>/profile/", views.data_detail, {"tab": "profile"}, name="data_profile"),
    path("<str:name>/<str:version>/files/", views.data_detail, {"tab": "files"}, name="data_files"),
    path("<str:name>/<str:version>/download", views.data_download, name="data_download"),
    path("<str:name>/<str:version>/edit", views.data_edit, name="data_edit"),
    *archive_paths(views.data_archive, name="data"),
    path("<str:name>/<str:version>/delete", views.data_delete, name="data_delete"),
]

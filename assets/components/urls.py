from django.urls import path

from assets.versioning_views import archive_paths

from . import views

urlpatterns = [
    path("", views.component_list, name="component_list"),
    path("new/", views.component_register, name="component_register"),
    path("new/upload", views.component_register_upload, name="component_register_upload"),
    path("<str:name>/", views.component_latest, name="component_latest"),
    path("<str:name>/<str:version>/", views.component_detail, name="component_detail"),
    path("<str:name>/<str:version>/code/", views.component_detail, {"tab": "code"}, name="component_code"),
    path("<str:name>/<str:version>/yaml/", views.component_detail, {"tab": "yaml"}, name="component_yaml"),
    path("<str:name>/<str:version>/code/file", views.component_file, name="component_file"),
    path("<str:name>/<str:version>/code/download", views.component_download, name="component_download"),
    *archive_paths(views.component_archive, name="component"),
]

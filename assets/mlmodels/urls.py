from django.urls import path

from assets.versioning_views import archive_paths

from . import views

urlpatterns = [
    path("", views.model_list, name="model_list"),
    path("new/", views.model_register, name="model_register"),
    path("new/upload", views.model_register_upload, name="model_register_upload"),
    path("<str:name>/", views.model_latest, name="model_latest"),
    path("<str:name>/<str:version>/", views.model_detail, name="model_detail"),
    path("<str:name>/<str:version>/artifacts/", views.model_detail, {"tab": "artifacts"}, name="model_artifacts"),
    path("<str:name>/<str:version>/artifacts/file", views.model_file, name="model_file"),
    path("<str:name>/<str:version>/download", views.model_file_download, name="model_download"),
    path("<str:name>/<str:version>/edit", views.model_edit, name="model_edit"),
    *archive_paths(views.model_archive, name="model"),
]

from django.urls import path

from assets.versioning_views import archive_paths

from . import views

urlpatterns = [
    path("", views.environment_list, name="environment_list"),
    path("new/", views.environment_create, name="environment_create"),
    path("<str:name>/<str:version>/", views.environment_detail, name="environment_detail"),
    path("<str:name>/<str:version>/build", views.environment_build, name="environment_build"),
    *archive_paths(views.environment_archive, name="environment"),
    path("<str:name>/<str:version>/build-log", views.environment_build_log, name="environment_build_log"),
    path(
        "<str:name>/<str:version>/build-log/events",
        views.environment_build_log_events,
        name="environment_build_log_events",
    ),
]

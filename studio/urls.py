"""The studio's URLs: each app routes its own pages (urls.py) and API (api_urls.py)."""

from django.urls import include, path

WORKSPACE = "workspaces/<str:workspace>/"

api_v1 = [
    path("", include("core.api_urls")),
    path("", include("accounts.api_urls")),
    path("", include("workspaces.api_urls")),
    path(WORKSPACE, include("assets.data.api_urls")),
    path(WORKSPACE, include("assets.environments.api_urls")),
    path(WORKSPACE, include("assets.mlmodels.api_urls")),
    path(WORKSPACE, include("assets.components.api_urls")),
    path(WORKSPACE, include("jobs.api_urls")),
    path(WORKSPACE, include("compute.api_urls")),
]

urlpatterns = [
    path("", include("core.urls")),
    path("", include("workspaces.urls")),
    path("accounts/", include("accounts.urls")),
    path(WORKSPACE + "data/", include("assets.data.urls")),
    path(WORKSPACE + "environments/", include("assets.environments.urls")),
    path(WORKSPACE + "models/", include("assets.mlmodels.urls")),
    path(WORKSPACE + "components/", include("assets.components.urls")),
    path(WORKSPACE + "jobs/", include("jobs.urls")),
    path(WORKSPACE + "compute/", include("compute.urls")),
    path("api/v1/", include(api_v1)),
    path("", include("tracking.urls")),
]

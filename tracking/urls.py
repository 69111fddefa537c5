"""The MLflow tracking server of each workspace: tracking URI `/mlflow/v1.0/workspaces/<workspace>`.

The client appends `/api/2.0/mlflow/<endpoint>` and `/api/2.0/mlflow-artifacts/artifacts/<path>`.
A job's metric data for the job pages' charts is routed here too, under the job's own URL.

Each handler module lists its endpoints in `ROUTES` as (sub-path, view); the ones marked `hot` are
also registered with the fast path (tracking.http.MlflowFastPath) here.
"""

import re

from django.urls import path

from . import artifacts, experiments, links, logged_models, metrics, registry, runs, views
from .http import register_hot_endpoint

PREFIX = "mlflow/v1.0/workspaces/<str:workspace>/api/2.0/"
JOB = "workspaces/<str:workspace>/jobs/<str:name>/"


def _name(sub: str) -> str:
    return "mlflow_" + re.sub(r"<(?:\w+:)?(\w+)>", r"\1", sub).replace("/", "_").replace("-", "_")


MLFLOW_ROUTES = [route for module in (experiments, runs, metrics, logged_models, registry) for route in module.ROUTES]

urlpatterns = (
    [
        # The tracking URI itself, where the client's links into MLflow's web UI point.
        path("mlflow/v1.0/workspaces/<str:workspace>/", links.tracking_home, name="mlflow_home"),
        path("mlflow/v1.0/workspaces/<str:workspace>/open", links.tracking_link, name="mlflow_link"),
    ]
    + [path(PREFIX + "mlflow/" + sub, view, name=_name(sub)) for sub, view in MLFLOW_ROUTES]
    + [
        path(PREFIX + "mlflow-artifacts/" + sub, view, name="mlflow_artifacts_" + name)
        for sub, view, name in artifacts.ROUTES
    ]
    + [
        path(JOB + "metrics", views.job_metrics, name="job_metrics"),
        path(JOB + "metrics/series", views.job_metric_series, name="job_metric_series"),
    ]
)

for sub, view in MLFLOW_ROUTES:
    if getattr(view, "mlflow_hot", False):
        register_hot_endpoint(sub, view)

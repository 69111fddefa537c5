from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Experiment tracking (MLflow)"

    def ready(self) -> None:
        from jobs import hooks

        # The routes register the hot endpoints with the MLflow fast path (studio/asgi.py), which
        # may serve a request before Django's URL resolver ever loads them.
        from . import urls  # noqa: F401
        from .job_metrics import JobMetrics

        hooks.register(JobMetrics())

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Experiment tracking (MLflow)"

    def ready(self) -> None:
        from jobs import metric_columns

        from .job_columns import LatestMetricColumns

        metric_columns.register(LatestMetricColumns())

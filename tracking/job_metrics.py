"""A job's metrics for the job pages (jobs.hooks): its summary, and the Jobs list's metric columns
read from each run's latest metrics."""

from . import metric_charts
from .models import LatestMetric

MAX_NAMES = 500


class JobMetrics:
    def summary(self, job) -> list[dict]:
        return metric_charts.metric_summary(job)

    def names(self, *, workspace) -> list[str]:
        keys = LatestMetric.objects.filter(job__workspace=workspace).values_list("key", flat=True)
        return list(keys.distinct().order_by("key")[:MAX_NAMES])

    def latest(self, *, job_ids: list[int], names: list[str]) -> dict[tuple[int, str], float | None]:
        rows = LatestMetric.objects.filter(job_id__in=job_ids, key__in=names).values_list("job_id", "key", "value")
        return {(job_id, key): value for job_id, key, value in rows}

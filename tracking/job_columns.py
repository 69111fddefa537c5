"""The Jobs list's metric columns (jobs.metric_columns), read from each run's latest metrics."""

from .models import LatestMetric

MAX_NAMES = 500


class LatestMetricColumns:
    def names(self, *, workspace) -> list[str]:
        keys = LatestMetric.objects.filter(job__workspace=workspace).values_list("key", flat=True)
        return list(keys.distinct().order_by("key")[:MAX_NAMES])

    def latest(self, *, job_ids: list[int], names: list[str]) -> dict[tuple[int, str], float | None]:
        rows = LatestMetric.objects.filter(job_id__in=job_ids, key__in=names).values_list("job_id", "key", "value")
        return {(job_id, key): value for job_id, key, value in rows}

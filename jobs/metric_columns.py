"""Metric columns of the Jobs list (Azure ML's "Edit columns"): the latest value of a chosen metric
for each job. Metrics belong to tracking, which sits above jobs: tracking registers the
`MetricColumns` provider from its AppConfig.ready(); without one the list offers no metric column."""

import math
from typing import Protocol

MAX_COLUMNS = 10


class MetricColumns(Protocol):
    def names(self, *, workspace) -> list[str]:
        """The metric names logged by the workspace's jobs, sorted."""
        ...

    def latest(self, *, job_ids: list[int], names: list[str]) -> dict[tuple[int, str], float | None]:
        """(job id, metric name) -> the latest value, for the pairs that have one."""
        ...


_provider: MetricColumns | None = None


def register(provider: MetricColumns) -> None:
    global _provider
    _provider = provider


def available(*, workspace) -> list[str]:
    return _provider.names(workspace=workspace) if _provider else []


def chosen(requested: list[str]) -> list[str]:
    """The columns asked for (`?metric=`), each once, in order, at most MAX_COLUMNS."""
    return [name for name in dict.fromkeys(n.strip() for n in requested) if name][:MAX_COLUMNS]


def text(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def attach(jobs, names: list[str]) -> None:
    """Give each job `metric_cells`: the text of its latest value of each named metric ("" if none)."""
    jobs = list(jobs)
    values = _provider.latest(job_ids=[job.pk for job in jobs], names=names) if _provider and names else {}
    for job in jobs:
        job.metric_cells = [text(values[job.pk, n]) if (job.pk, n) in values else "" for n in names]

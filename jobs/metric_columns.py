"""Metric columns of the Jobs list (Azure ML's "Edit columns"): the latest value of a chosen metric
for each job. Metrics belong to tracking, which sits above jobs: the values come through jobs.hooks."""

import math

from . import hooks

MAX_COLUMNS = 10


def available(*, workspace) -> list[str]:
    return hooks.metric_names(workspace=workspace)


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
    values = hooks.latest_metrics(job_ids=[job.pk for job in jobs], names=names)
    for job in jobs:
        job.metric_cells = [text(values[job.pk, n]) if (job.pk, n) in values else "" for n in names]

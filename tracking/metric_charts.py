"""What the Metrics tab and the Compare page draw: each metric's point count and latest value, and a
metric's points in the shape a uPlot chart takes, from series.py (which downsamples on the
server, so a chart never gets more than about MAX_POINTS points however many were logged).

Points come in two ways: the whole series, or only the points logged after the last one the chart
has (`after_id`), for a chart that grows while the job runs. When more new points arrive than one
answer carries, the whole series comes back instead (`full` is true).
"""

import math

from django.db.models import Count

from . import series
from .models import LatestMetric, Metric

MAX_POINTS = 1000
X_AXES = ("step", "time")


def metric_summary(job) -> list[dict]:
    """Each metric of the job: key, number of points, and the latest value, step and time."""
    counts = dict(
        Metric.objects.filter(job=job).values_list("key").annotate(n=Count("pk")).values_list("key", "n").order_by()
    )
    rows = []
    for latest in LatestMetric.objects.filter(job=job).order_by("key"):
        rows.append(
            {
                "key": latest.key,
                "count": counts.get(latest.key, 0),
                "value": _finite(latest.value),
                "text": _text(latest.value),
                "step": latest.step,
                "timestamp": latest.timestamp,
            }
        )
    return rows


def metric_points(job, key: str, *, x: str = "step", after_id: int | None = None) -> dict:
    """{"key", "x": [...], "y": [...], "count", "full", "sampled", "last_id"} with x as step numbers or
    seconds since the epoch; y is null for NaN and infinities (a gap in the chart). With `after_id`
    (the `last_id` of an earlier answer) only the points logged since come back, unless there are
    more than one answer carries: then the whole series does, with `full` true."""
    if after_id is not None:
        newer = series.metric_points_since(job, key, after_id, x=x, limit=MAX_POINTS)
        if not newer["more"]:
            return _chart_data(key, newer["points"], x, full=False, last_id=newer["last_id"], count=None)
    whole = series.metric_series(job, key, max_points=MAX_POINTS, x=x)
    return _chart_data(
        key, whole["points"], x, full=True, last_id=whole["last_id"], count=whole["count"], sampled=whole["sampled"]
    )


def _chart_data(key, points, x, *, full, last_id, count, sampled=False) -> dict:
    scale = 1 if x == "step" else 1000
    return {
        "key": key,
        "x": [px / scale for px, _ in points] if scale != 1 else [px for px, _ in points],
        "y": [py for _, py in points],
        "count": len(points) if count is None else count,
        "full": full,
        "sampled": sampled,
        "last_id": last_id,
    }


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def _text(value) -> str:
    if value is None:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"

"""Metric series for the studio's charts, downsampled on the server.

A run can log hundreds of thousands of points per metric; the browser gets at most about
`max_points` of them. Up to that many points are sent as logged. Beyond it the x range is cut
into `max_points` equal buckets, and each bucket becomes one point at its mean (the line) and one
band entry with its minimum and maximum (so spikes stay visible). The database does the
bucketing in one GROUP BY, so the cost is one index range scan whatever the length.

Interface (all take a jobs.models.Job that the caller has already authorized):

- `metric_keys(job)` -> the run's metric names with their latest value, for the chart picker.
- `metric_series(job, key, max_points=1000, x="step")` -> one chart's data.
- `metric_points_since(job, key, after_id, x="step")` -> points logged after a series' `last_id`,
  for live charts of a running job.

Values that are NaN or +-inf are sent as null (a gap in the line), since JSON has no such numbers.
"""

import math

from django.db.models import Avg, Count, F, Max, Min, Q

from .models import LatestMetric, Metric

X_FIELDS = {"step": "step", "time": "timestamp"}
DEFAULT_MAX_POINTS = 1000
MAX_POINTS_LIMIT = 5000
SINCE_LIMIT = 5000


def _y(value):
    """A value the browser's JSON can carry: None for NaN (stored as NULL) and +-inf."""
    return value if value is not None and math.isfinite(value) else None


def _x_field(x: str) -> str:
    if x not in X_FIELDS:
        raise ValueError(f"x must be one of {sorted(X_FIELDS)}, not {x!r}")
    return X_FIELDS[x]


def metric_keys(job) -> list[dict]:
    """The run's metric names (sorted) with their latest value, step and timestamp."""
    rows = LatestMetric.objects.filter(job=job).order_by("key").values_list("key", "value", "step", "timestamp")
    return [
        {"key": key, "value": _y(value), "step": step, "timestamp": timestamp} for key, value, step, timestamp in rows
    ]


def _raw_points(points, field: str) -> list[list]:
    return [[x, _y(value)] for x, value in points.order_by(field, "id").values_list(field, "value")]


def _bucketed(points, field: str, low: int, high: int, max_points: int) -> tuple[list, list]:
    """One (mean) point and one [x, min, max] band per non-empty bucket of equal x width."""
    width = -(-(high - low + 1) // max_points)
    buckets = (
        points.annotate(bucket=(F(field) - low) / width)
        .values("bucket")
        .annotate(x_first=Min(field), x_last=Max(field), mean=Avg("value"), low=Min("value"), high=Max("value"))
        .order_by("bucket")
    )
    line, band = [], []
    for row in buckets:
        x = (row["x_first"] + row["x_last"]) // 2
        line.append([x, _y(row["mean"])])
        band.append([x, _y(row["low"]), _y(row["high"])])
    return line, band


def metric_series(job, key: str, *, max_points: int = DEFAULT_MAX_POINTS, x: str = "step") -> dict:
    """A chart's data for one metric of a run.

    Returns `{"key", "x", "count", "sampled", "points": [[x, y], ...], "band": [[x, min, max], ...],
    "last_id"}`: `points` are the logged points (ordered by x) when there are at most
    `max_points`, else bucket means with `band` giving each bucket's range (empty when not
    sampled). `x` is "step" or "time" (milliseconds since the epoch). Pass `last_id` to
    `metric_points_since` to fetch what is logged afterwards.
    """
    field = _x_field(x)
    max_points = max(2, min(int(max_points), MAX_POINTS_LIMIT))
    points = Metric.objects.filter(job=job, key=key)
    stats = points.aggregate(count=Count("id"), low=Min(field), high=Max(field), last_id=Max("id"))
    series = {"key": key, "x": x, "count": stats["count"], "sampled": False, "points": [], "band": []}
    series["last_id"] = stats["last_id"] or 0
    # Points logged after the count was taken wait for the next `metric_points_since`, so the answer
    # holds exactly `count` points and none comes twice.
    points = points.filter(id__lte=series["last_id"])
    if stats["count"] <= max_points:
        series["points"] = _raw_points(points, field)
    else:
        series["sampled"] = True
        series["points"], series["band"] = _bucketed(points, field, stats["low"], stats["high"], max_points)
    return series


def metric_points_since(job, key: str, after_id: int, *, x: str = "step", limit: int = SINCE_LIMIT) -> dict:
    """Points of a metric logged after the point `after_id` (a series' `last_id`), in logging
    order: `{"points": [[x, y], ...], "last_id", "more"}`. `more` says the limit cut the answer
    short; ask again from the new `last_id`."""
    field = _x_field(x)
    rows = list(
        Metric.objects.filter(Q(job=job, key=key, id__gt=int(after_id)))
        .order_by("id")
        .values_list("id", field, "value")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "points": [[x_value, _y(value)] for _id, x_value, value in rows],
        "last_id": rows[-1][0] if rows else int(after_id),
        "more": more,
    }

"""What the job pages show that a later app records: a job's metrics are tracking's, which registers
its function here from its AppConfig.ready() (jobs never imports tracking)."""

from collections.abc import Callable

_metric_summary: Callable | None = None


def register_metric_summary(function: Callable) -> None:
    global _metric_summary  # noqa: PLW0603 - the one registration, made once at start-up
    _metric_summary = function


def metric_summary(job) -> list[dict]:
    """Each metric of the job: key, count, value, text, step and timestamp of its latest point."""
    return _metric_summary(job) if _metric_summary else []

"""What the job pages show that a later app records: a job's metrics are tracking's, which registers
one `JobMetrics` provider here from its AppConfig.ready() (jobs never imports tracking). Without
one, jobs show no metrics and the Jobs list offers no metric column."""

from typing import Protocol


class JobMetrics(Protocol):
    def summary(self, job) -> list[dict]:
        """Each metric of the job: key, count, value, text, step and timestamp of its latest point."""
        ...

    def names(self, *, workspace) -> list[str]:
        """The metric names logged by the workspace's jobs, sorted."""
        ...

    def latest(self, *, job_ids: list[int], names: list[str]) -> dict[tuple[int, str], float | None]:
        """(job id, metric name) -> the latest value, for the pairs that have one."""
        ...


_provider: JobMetrics | None = None


def register(provider: JobMetrics) -> None:
    global _provider  # noqa: PLW0603 - the one registration, made once at start-up
    _provider = provider


def metric_summary(job) -> list[dict]:
    return _provider.summary(job) if _provider else []


def metric_names(*, workspace) -> list[str]:
    return _provider.names(workspace=workspace) if _provider else []


def latest_metrics(*, job_ids: list[int], names: list[str]) -> dict[tuple[int, str], float | None]:
    return _provider.latest(job_ids=job_ids, names=names) if _provider and names else {}

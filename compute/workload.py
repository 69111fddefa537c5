"""The work that runs on compute clusters, as the app that runs it tells.

Compute sits below jobs: it never imports them. jobs registers a `Workload` from its
AppConfig.ready(); until then (or in a studio without jobs) compute sees no work at all.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RunningJob:
    """What a node's row shows of the job it runs."""

    name: str
    display_name: str = ""


class Workload(Protocol):
    def demand(self, cluster_ids: list[int]) -> dict[int, int]:
        """Per cluster, how many jobs want a node now (queued, or on one already)."""
        ...

    def running_on(self, node_ids: list[int]) -> dict[int, RunningJob]:
        """The job each of these nodes runs, for the nodes that run one."""
        ...

    def unfinished(self, cluster) -> int:
        """How many of the cluster's jobs have not ended."""
        ...

    def has_history(self, cluster) -> bool:
        """Whether any job, finished or not, ran or waits on the cluster."""
        ...


class _NoWork:
    def demand(self, cluster_ids: list[int]) -> dict[int, int]:
        return {}

    def running_on(self, node_ids: list[int]) -> dict[int, RunningJob]:
        return {}

    def unfinished(self, cluster) -> int:
        return 0

    def has_history(self, cluster) -> bool:
        return False


_workload: Workload = _NoWork()


def register(workload: Workload) -> None:
    global _workload
    _workload = workload


def current() -> Workload:
    return _workload

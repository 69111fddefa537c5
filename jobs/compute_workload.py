"""What compute asks of jobs (compute.workload): the demand for nodes, the job on each node, and
whether a cluster still has jobs. Registered from JobsConfig.ready()."""

from django.db.models import Count

from compute.workload import RunningJob

from .models import ACTIVE, Job, JobStatus
from .selectors import jobs_for_workspace

# A job in these states holds or waits for a node of its cluster.
DEMAND = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FINALIZING, JobStatus.CANCEL_REQUESTED]


class JobsWorkload:
    def demand(self, cluster_ids: list[int]) -> dict[int, int]:
        rows = (
            Job.objects.filter(compute_id__in=cluster_ids, status__in=DEMAND)
            .values("compute_id")
            .annotate(count=Count("pk"))
        )
        return {row["compute_id"]: row["count"] for row in rows}

    def running_on(self, node_ids: list[int]) -> dict[int, RunningJob]:
        rows = Job.objects.filter(node_id__in=node_ids, status__in=ACTIVE).values("node_id", "name", "display_name")
        return {row["node_id"]: RunningJob(row["name"], row["display_name"]) for row in rows}

    def unfinished(self, cluster) -> int:
        jobs = jobs_for_workspace(
            workspace=cluster.workspace,
            compute=cluster.name,
            status=list(ACTIVE),
            include_children=True,
            include_archived=True,
        )
        return jobs.count()

    def has_history(self, cluster) -> bool:
        return Job.objects.filter(compute_id=cluster.pk).exists()

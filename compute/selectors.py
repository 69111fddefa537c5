"""Reads of compute clusters and their nodes, always within one workspace."""

from django.db.models import Prefetch, QuerySet

from workspaces.models import Workspace

from . import workload
from .models import ComputeCluster, ComputeNode


def _with_nodes(clusters: QuerySet[ComputeCluster]) -> QuerySet[ComputeCluster]:
    nodes = ComputeNode.objects.order_by("started_at", "pk")
    return clusters.select_related("created_by", "workspace").prefetch_related(Prefetch("nodes", queryset=nodes))


def clusters_for_workspace(*, workspace: Workspace) -> QuerySet[ComputeCluster]:
    """The workspace's clusters by name, each with its nodes."""
    return _with_nodes(ComputeCluster.objects.filter(workspace=workspace)).order_by("name")


def cluster_by_name(*, workspace: Workspace, name: str) -> ComputeCluster | None:
    return _with_nodes(ComputeCluster.objects.filter(workspace=workspace, name=name)).first()


def with_running_jobs(clusters) -> list[ComputeCluster]:
    """The clusters, each node with `job`: the job it runs (a compute.workload.RunningJob) or None.
    The jobs own the assignment (a job names its node); one query asks them for every node."""
    clusters = list(clusters)
    nodes = [node for cluster in clusters for node in cluster.nodes.all()]
    running = workload.current().running_on([node.pk for node in nodes]) if nodes else {}
    for node in nodes:
        node.job = running.get(node.pk)
    return clusters

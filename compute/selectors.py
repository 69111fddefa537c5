"""Reads of compute clusters and their nodes, always within one workspace."""

from django.db.models import Prefetch, QuerySet

from workspaces.models import Workspace

from .models import ComputeCluster, ComputeNode


def _with_nodes(clusters: QuerySet[ComputeCluster]) -> QuerySet[ComputeCluster]:
    nodes = ComputeNode.objects.select_related("job").order_by("started_at", "pk")
    return clusters.select_related("created_by", "workspace").prefetch_related(Prefetch("nodes", queryset=nodes))


def clusters_for_workspace(*, workspace: Workspace) -> QuerySet[ComputeCluster]:
    """The workspace's clusters by name, each with its nodes (and the job each node runs)."""
    return _with_nodes(ComputeCluster.objects.filter(workspace=workspace)).order_by("name")


def cluster_by_name(*, workspace: Workspace, name: str) -> ComputeCluster | None:
    return _with_nodes(ComputeCluster.objects.filter(workspace=workspace, name=name)).first()

"""The node manager on this machine: nodes of a deleted cluster stop."""

import subprocess

import pytest

from compute.models import ComputeNode
from compute.nodes import NodeManager

pytestmark = pytest.mark.django_db


def test_nodes_of_a_deleted_cluster_are_told_to_stop(workspace, owner):
    cluster = workspace.compute_clusters.create(name="short-lived", min_instances=1)
    kept = workspace.compute_clusters.get(name="cpu-cluster")
    manager = NodeManager(hostname="test-host")
    processes = []
    for name, target in (("short-lived-a@test-host", cluster), ("cpu-cluster-a@test-host", kept)):
        node = ComputeNode.objects.create(cluster=target, name=name, hostname="test-host")
        proc = subprocess.Popen(["sleep", "60"])  # stands in for the node's Celery worker
        manager.processes[node.pk] = proc
        processes.append(proc)
    try:
        cluster.delete()
        manager.collect_exited()
        assert processes[0].wait(timeout=5) == -15  # SIGTERM: a warm shutdown for a real node
        assert processes[1].poll() is None
        manager.collect_exited()
        assert len(manager.processes) == 1
    finally:
        for proc in processes:
            proc.kill()
            proc.wait()

"""One owner for the node/job assignment (Job.node), and compute learning about jobs only through
compute.workload, which jobs fills: compute never imports jobs, workspaces never import compute."""

import ast
from pathlib import Path

import pytest

from compute import workload
from compute.models import ComputeNode, NodeState
from compute.nodes import NodeManager
from compute.services import cluster_delete
from jobs import services
from jobs.models import Job, JobStatus
from tests.jobs.support import make_job
from workspaces.services import workspace_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def imported_modules(app: str) -> set[str]:
    """Every module the app's files import, function-level imports included."""
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize(("app", "above"), [("compute", ("jobs", "tracking")), ("workspaces", ("compute", "jobs"))])
def test_an_app_never_imports_an_app_above_it(app, above):
    upward = sorted(m for m in imported_modules(app) if m.split(".")[0] in above)
    assert upward == []


def node_of(workspace, name="cpu-cluster-a@h"):
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    return ComputeNode.objects.create(cluster=cluster, name=name, hostname="h", state=NodeState.IDLE)


def test_the_job_a_node_runs_is_the_active_job_that_claimed_it(workspace):
    node = node_of(workspace)
    job = make_job(workspace, name="claimed", status=JobStatus.QUEUED)
    assert services.job_claim(job_id=job.pk, node=node)
    assert workload.current().running_on([node.pk]) == {node.pk: workload.RunningJob("claimed", "")}
    services.job_finish(job_id=job.pk, status=JobStatus.COMPLETED)
    assert workload.current().running_on([node.pk]) == {}


def test_a_job_keeps_the_name_of_its_node_after_scale_down_removes_it(workspace, client, owner):
    node = node_of(workspace)
    job = make_job(workspace, name="ran-there", status=JobStatus.QUEUED)
    services.job_claim(job_id=job.pk, node=node)
    services.job_finish(job_id=job.pk, status=JobStatus.COMPLETED)
    node.delete()
    job.refresh_from_db()
    assert (job.node, job.node_name) == (None, "cpu-cluster-a@h")
    client.force_login(owner)
    page = client.get(f"/workspaces/{workspace.name}/jobs/{job.name}/").content.decode()
    assert "<dt>Node</dt><dd>cpu-cluster-a@h</dd>" in page


def test_the_node_manager_starts_nodes_for_the_queued_jobs_the_workload_reports(workspace, monkeypatch):
    started = []
    monkeypatch.setattr(
        NodeManager,
        "start_node",
        lambda self, cluster: started.append(cluster.name) or node_of(workspace, f"n{len(started)}@h"),
    )
    make_job(workspace, name="waiting-1", status=JobStatus.QUEUED)
    make_job(workspace, name="waiting-2", status=JobStatus.QUEUED)
    make_job(workspace, name="done", status=JobStatus.COMPLETED)
    NodeManager(hostname="h").scale()
    assert started == ["cpu-cluster", "cpu-cluster"]  # max_instances 2


def test_a_cluster_with_unfinished_jobs_or_history_cannot_be_deleted(workspace):
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    job = make_job(workspace, name="busy", status=JobStatus.RUNNING, compute=cluster)
    with pytest.raises(Exception, match="not finished"):
        cluster_delete(cluster=cluster)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED)
    with pytest.raises(Exception, match="kept in the history"):
        cluster_delete(cluster=cluster)


def test_a_new_workspace_gets_its_default_cluster_through_the_hook(owner):
    created = workspace_create(user=owner, name="hooked-ws")
    assert list(created.compute_clusters.values_list("name", flat=True)) == ["cpu-cluster"]

"""Job services the faults rely on: a node's lost worker process ends its job at once."""

import os
import signal
import socket
import subprocess
import time

import pytest

from compute.models import ComputeNode, NodeState
from jobs import services
from jobs.models import Job, JobStatus

from .support import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def group():
    """A real process group (a `sleep` leading it, as a job's bash would); killed if a test leaves it."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def running_on_node(workspace, group, *, status=JobStatus.RUNNING):
    cluster = workspace.compute_clusters.get(name="cpu-cluster")
    node = ComputeNode.objects.create(cluster=cluster, name="cpu-cluster-x@h", hostname="h", state=NodeState.BUSY)
    job = make_job(workspace, name="lost", status=status)
    Job.objects.filter(pk=job.pk).update(node=node, pgid=group.pid, hostname=socket.gethostname())
    return job, node


def wait_exited(proc, timeout=5.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc.poll()


def test_lost_worker_process_fails_the_job_kills_its_group_and_frees_the_node(workspace, group):
    job, node = running_on_node(workspace, group)
    assert services.job_node_process_lost(job_id=job.pk, node_name=node.name, reason="Lost (SIGKILL).")
    job.refresh_from_db()
    node.refresh_from_db()
    assert (job.status, job.status_reason) == (JobStatus.FAILED, "Lost (SIGKILL).")
    assert job.ended_at is not None
    assert wait_exited(group) == -signal.SIGKILL
    assert node.state == NodeState.IDLE


def test_lost_worker_process_of_a_job_being_canceled_ends_it_canceled(workspace, group):
    job, node = running_on_node(workspace, group, status=JobStatus.CANCEL_REQUESTED)
    services.job_node_process_lost(job_id=job.pk, node_name=node.name, reason="Lost.")
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELED


def test_lost_worker_process_after_the_reaper_only_frees_the_node(workspace, group):
    job, node = running_on_node(workspace, group, status=JobStatus.FAILED)
    assert not services.job_node_process_lost(job_id=job.pk, node_name=node.name, reason="Lost.")
    assert Job.objects.get(pk=job.pk).status_reason == ""
    assert ComputeNode.objects.get(pk=node.pk).state == NodeState.IDLE


def test_a_report_from_another_node_changes_nothing(workspace, group):
    job, node = running_on_node(workspace, group)
    assert not services.job_node_process_lost(job_id=job.pk, node_name="other@h", reason="Lost.")
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    assert group.poll() is None


@pytest.mark.django_db
def test_a_job_cannot_take_the_name_of_the_submit_page(owner, workspace):
    from django.core.exceptions import ValidationError

    from jobs.models import Job
    from jobs.services import job_submit

    with pytest.raises(ValidationError) as info:
        job_submit(
            workspace=workspace,
            user=owner,
            yaml_text="name: submit\ncommand: echo hi\nenvironment: azureml:AzureML-minimal-py311:1\n",
        )
    assert "reserved" in info.value.message_dict["name"][0]
    assert not Job.objects.exists()

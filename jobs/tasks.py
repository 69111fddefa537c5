import re
import socket

from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.signals import task_failure
from django.utils import timezone

from compute.models import ComputeNode, NodeState

from . import services
from .models import Job, JobStatus


@shared_task(bind=True, name=services.RUN_JOB_TASK, ignore_result=True, acks_late=True)
def run_job(self, job_id: int) -> None:
    """Runs on a node of the job's cluster. Claims the job first: a duplicate delivery does nothing."""
    from .runner import JobRunner

    node_name = self.request.hostname or f"node@{socket.gethostname()}"
    node = ComputeNode.objects.filter(name=node_name).first()
    if not services.job_claim(job_id=job_id, node=node):
        return
    job = Job.objects.select_related("workspace", "experiment", "environment__build", "compute").get(pk=job_id)
    if node:
        ComputeNode.objects.filter(pk=node.pk).update(state=NodeState.BUSY, idle_since=None)
    try:
        JobRunner(job, node_name=node_name).run()
    finally:
        if node:
            ComputeNode.objects.filter(pk=node.pk).update(state=NodeState.IDLE, idle_since=timezone.now())


@task_failure.connect
def _job_process_lost(sender=None, exception=None, args=None, **kwargs) -> None:
    """In a node's main process: the pool process running a job was killed (WorkerLostError), so the
    runner's own clean-up never ran. End the job with the reason at once."""
    if getattr(sender, "name", None) != run_job.name or not isinstance(exception, WorkerLostError) or not args:
        return
    node_name = getattr(sender.request, "hostname", None) or f"node@{socket.gethostname()}"
    # "Worker exited prematurely: signal 9 (SIGKILL) Job: 0." -> "exited prematurely: signal 9 (SIGKILL)"
    detail = re.sub(r"\s*Job: \d+\.?$", "", str(exception)).removeprefix("Worker ")
    services.job_node_process_lost(
        job_id=args[0],
        node_name=node_name,
        reason=f"The node's worker process running this job {detail}. The job's processes were stopped.",
    )


@shared_task(ignore_result=True)
def dispatch_jobs() -> None:
    """Scheduled: move Preparing jobs on once their environment is built; resend Queued jobs whose
    message may have been lost."""
    from datetime import timedelta

    for job_id in Job.objects.filter(status=JobStatus.PREPARING).values_list("pk", flat=True)[:200]:
        services.job_dispatch(job_id=job_id)
    stale = timezone.now() - timedelta(seconds=60)
    for job in (
        Job.objects.filter(
            status=JobStatus.QUEUED, node__isnull=True, events__status=JobStatus.QUEUED, events__at__lt=stale
        )
        .select_related("compute__workspace")
        .distinct()[:50]
    ):
        services.job_nudge(job=job)


@shared_task(ignore_result=True)
def reap_lost_jobs() -> None:
    services.reap_lost_jobs()

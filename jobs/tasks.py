import socket

from celery import shared_task
from django.utils import timezone

from compute.models import ComputeNode, NodeState

from . import services
from .models import Job, JobStatus


@shared_task(bind=True, ignore_result=True, acks_late=True)
def run_job(self, job_id: int) -> None:
    """Runs on a node of the job's cluster. Claims the job first: a duplicate delivery does nothing."""
    from .runner import JobRunner

    node_name = self.request.hostname or f"node@{socket.gethostname()}"
    node = ComputeNode.objects.filter(name=node_name).first()
    if not services.job_claim(job_id=job_id, node=node):
        return
    job = Job.objects.select_related("workspace", "experiment", "environment__build", "compute").get(pk=job_id)
    if node:
        ComputeNode.objects.filter(pk=node.pk).update(state=NodeState.BUSY, job=job, idle_since=None)
    try:
        JobRunner(job, node_name=node_name).run()
    finally:
        if node:
            ComputeNode.objects.filter(pk=node.pk).update(state=NodeState.IDLE, job=None, idle_since=timezone.now())


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

"""Helpers for the job tests: specs, archives, jobs in a given state."""

import io
import zipfile
from datetime import timedelta

from django.utils import timezone

from jobs.models import Experiment, Job, JobLogChunk, JobStatus, JobStatusEvent

INLINE_ENV = "environment:\n  image: library/python:latest\n"


def spec(body: str, *, env: str = INLINE_ENV) -> str:
    return body.rstrip("\n") + "\n" + env


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def upload(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def make_job(workspace, *, name: str, status: str = JobStatus.COMPLETED, experiment: str = "Default", **fields) -> Job:
    """A job row as a finished run leaves it (no process involved)."""
    experiment_row, _ = Experiment.objects.get_or_create(workspace=workspace, name=experiment)
    fields.setdefault("compute", workspace.compute_clusters.get(name="cpu-cluster"))
    job = Job.objects.create(workspace=workspace, name=name, experiment=experiment_row, status=status, **fields)
    JobStatusEvent.objects.create(job=job, status=JobStatus.NOT_STARTED, message="Submitted")
    if status != JobStatus.NOT_STARTED:
        JobStatusEvent.objects.create(job=job, status=status, message="")
    return job


def add_log(job: Job, *texts: str) -> int:
    """Append chunks to the job's live log as a node does; returns the size."""
    offset = job.log_size
    for text in texts:
        JobLogChunk.objects.create(job=job, offset=offset, text=text)
        offset += len(text.encode())
    Job.objects.filter(pk=job.pk).update(log_size=offset)
    job.log_size = offset
    return offset


def finish(job: Job, status: str = JobStatus.COMPLETED, *, seconds: float = 3.0, exit_code: int = 0) -> Job:
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=status, started_at=now - timedelta(seconds=seconds), ended_at=now, exit_code=exit_code
    )
    job.refresh_from_db()
    return job

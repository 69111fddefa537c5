"""A job's status timeline marks the state the job is in (or ended in) as current, and the Cancel
button follows the cancel: disabled while it is requested, gone once the job has ended."""

import re

import pytest

from jobs import services
from jobs.models import Job, JobStatus, JobStatusEvent

from .support import make_job

pytestmark = pytest.mark.django_db


def page(client, job) -> str:
    return client.get(f"/workspaces/{job.workspace.name}/jobs/{job.name}/").content.decode()


def current_steps(html: str) -> list[str]:
    return re.findall(r'<li class="st-([a-z]+) current">', html)


def test_a_running_job_marks_running_as_current(client, owner, workspace):
    job = make_job(workspace, name="runs", status=JobStatus.QUEUED)
    services.job_mark_running(job_id=job.pk, pgid=1, hostname="h")
    client.force_login(owner)
    html = page(client, job)
    assert current_steps(html) == ["running"]
    assert "so far" in html


def test_an_ended_job_marks_its_final_state_current_not_running(client, owner, workspace):
    job = make_job(workspace, name="ended", status=JobStatus.QUEUED)
    services.job_mark_running(job_id=job.pk, pgid=1, hostname="h")
    services.job_finish(job_id=job.pk, status=JobStatus.FAILED, reason="exited with code 1")
    client.force_login(owner)
    assert current_steps(page(client, job)) == ["failed"]


def test_an_ended_job_whose_end_has_no_event_still_ends_the_timeline(client, owner, workspace):
    job = make_job(workspace, name="no-end-event", status=JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED)
    client.force_login(owner)
    html = page(client, job)
    assert current_steps(html) == ["completed"]
    assert JobStatusEvent.objects.filter(job=job, status=JobStatus.COMPLETED).count() == 0  # shown, not written


def test_cancel_is_offered_then_shown_requested_then_gone(client, owner, workspace):
    job = make_job(workspace, name="to-cancel", status=JobStatus.QUEUED)
    services.job_mark_running(job_id=job.pk, pgid=1, hostname="h")
    client.force_login(owner)
    html = page(client, job)
    assert 'data-testid="cancel-job"' in html and 'data-testid="cancel-requested"' not in html

    job.refresh_from_db()
    services.job_cancel(job=job)
    html = page(client, job)
    assert 'data-testid="cancel-job"' not in html
    assert re.search(
        r'<button class="btn" type="button" disabled data-testid="cancel-requested"[^>]*>Cancel requested', html
    )

    services.job_finish(job_id=job.pk, status=JobStatus.CANCELED)
    html = page(client, job)
    assert 'data-testid="cancel-job"' not in html and 'data-testid="cancel-requested"' not in html
    assert current_steps(html) == ["canceled"]


def test_a_reader_sees_no_cancel_at_all(client, reader, workspace):
    job = make_job(workspace, name="read-only", status=JobStatus.CANCEL_REQUESTED)
    client.force_login(reader)
    html = page(client, job)
    assert "cancel-job" not in html and "cancel-requested" not in html

"""/healthz: the overall status for anyone, the parts (with the workers' host names) only for a
signed-in user; and a foreign Host header logged in one line, not a traceback."""

import logging

import pytest
from django.utils import timezone

from core import sandbox
from core.models import WorkerHeartbeat
from jobs.models import JobStatus
from jobs.services import job_token_create
from tests.jobs.support import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _worker():
    WorkerHeartbeat.objects.create(hostname="worker@gpu-node-17.internal", last_seen=timezone.now())


def test_anonymous_callers_get_only_the_status_and_the_sandbox(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "sandbox": sandbox.status().backend}
    assert "gpu-node-17" not in response.content.decode()


def test_a_signed_in_user_sees_each_part_and_the_workers(owner, browser_client):
    body = browser_client(owner).get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["workers"] == {"alive": 1, "hostnames": ["worker@gpu-node-17.internal"]}


def test_a_personal_token_sees_each_part(owner, api_client):
    assert api_client(owner).get("/healthz").json()["workers"]["alive"] == 1


def test_a_jobs_token_gets_only_the_status_and_the_sandbox(owner, workspace, client):
    raw = job_token_create(job=make_job(workspace, name="health-job", status=JobStatus.RUNNING, created_by=owner))
    assert client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {raw}").json() == {
        "status": "ok",
        "sandbox": sandbox.status().backend,
    }


def test_a_broken_part_is_503_for_anyone(client, monkeypatch):
    monkeypatch.setattr("core.health.broker_state", lambda: {"status": "error", "transport": "x", "message": "down"})
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "sandbox": sandbox.status().backend}


def test_a_foreign_host_header_is_a_400_logged_in_one_line(client, caplog):
    with caplog.at_level(logging.ERROR, logger="django.security.DisallowedHost"):
        response = client.get("/accounts/login/", HTTP_HOST="evil.test")
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    line = logging.Formatter().format(record)
    assert "evil.test" in line
    assert "\n" not in line and "Traceback" not in line

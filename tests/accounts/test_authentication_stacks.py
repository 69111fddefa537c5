"""One authentication on every request stack: the same requests through the fast ASGI paths (the
MLflow client's metric logging, upload chunks) and through Django's own stack get the same answers,
whatever the credentials."""

import base64

import pytest
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

from accounts.services import token_create, token_revoke
from assets.data import uploads
from tests.asgi_support import asgi_call
from tests.conftest import PASSWORD
from tests.jobs.support import make_job
from workspaces.services import workspace_create

pytestmark = pytest.mark.django_db

METRIC = b'{"run_id": "run-1", "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}'


@pytest.fixture
def stacks(monkeypatch):
    """{"fast": the studio's ASGI application, "django": the same without its fast paths}."""
    from assets.data import asgi_chunks
    from core import body_limit
    from core.body_limit import BodySizeLimit
    from studio.asgi import application, django_application
    from tracking import http

    # The test runs inside a transaction, which closing "old" connections would end.
    for module in (asgi_chunks, body_limit, http):
        monkeypatch.setattr(module, "close_old_connections", lambda: None)
    monkeypatch.setattr(http, "ACCESS_CACHE_SECONDS", 0)  # each request authenticated afresh
    return {"fast": application, "django": BodySizeLimit(django_application)}


def bearer(raw: str) -> dict:
    return {"authorization": f"Bearer {raw}"}


def basic(username: str, password: str) -> dict:
    return {"authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def session_cookie(client, user, *, with_csrf: bool) -> dict:
    client.force_login(user)
    headers = {"cookie": f"sessionid={client.cookies['sessionid'].value}"}
    if with_csrf:
        secret = _get_new_csrf_string()
        headers["cookie"] += f"; csrftoken={secret}"
        headers["x-csrftoken"] = _mask_cipher_secret(secret)
    return headers


@pytest.fixture
def credentials(owner, workspace, outsider, client):
    """name -> headers, for every kind of caller."""
    personal = token_create(user=owner, name="personal")[1]
    revoked_token, revoked = token_create(user=owner, name="revoked")
    token_revoke(token=revoked_token)
    make_job(workspace, name="run-1", status="Running")
    job_token, job_raw = token_create(user=owner, name="job run-1")
    job_token.workspace, job_token.job_name = workspace, "run-1"
    job_token.save()
    other = workspace_create(user=owner, name="elsewhere")
    foreign_job, foreign_raw = token_create(user=owner, name="job elsewhere")
    foreign_job.workspace, foreign_job.job_name = other, "x"
    foreign_job.save()
    return {
        "personal token": bearer(personal),
        "revoked token": bearer(revoked),
        "a job's token": bearer(job_raw),
        "a job's token of another workspace": bearer(foreign_raw),
        "an outsider's token": bearer(token_create(user=outsider, name="x")[1]),
        "not a token": bearer("stu_nope"),
        "Basic, right password": basic(owner.username, PASSWORD),
        "Basic, wrong password": basic(owner.username, "wrong"),
        "session with its CSRF token": session_cookie(client, owner, with_csrf=True),
        "session without a CSRF token": session_cookie(client, owner, with_csrf=False),
        "nobody": {},
        "a token from another site's page": {**bearer(personal), "origin": "https://evil.test"},
    }


CALLERS = [
    "personal token",
    "revoked token",
    "a job's token",
    "a job's token of another workspace",
    "an outsider's token",
    "not a token",
    "Basic, right password",
    "Basic, wrong password",
    "session with its CSRF token",
    "session without a CSRF token",
    "nobody",
    "a token from another site's page",
]


@pytest.mark.parametrize("caller", CALLERS)
def test_metric_logging_answers_alike_on_both_stacks(stacks, credentials, caller):
    headers = {**credentials[caller], "content-type": "application/json"}
    path = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/runs/log-metric"
    answers = {name: asgi_call(app, path, [METRIC], headers, method="POST")[0] for name, app in stacks.items()}
    assert answers["fast"] == answers["django"], answers


@pytest.mark.parametrize("caller", CALLERS)
def test_an_upload_chunk_answers_alike_on_both_stacks(stacks, credentials, caller, owner, workspace):
    answers = {}
    for name, app in stacks.items():
        session = uploads.upload_session_create(workspace=workspace, user=owner, file_name="a.csv", size=4)
        headers = {
            **credentials[caller],
            "content-type": "application/octet-stream",
            "content-range": "bytes 0-3/4",
            "content-length": "4",
        }
        path = f"/api/v1/workspaces/team-ws/data/uploads/{session.pk}"
        answers[name] = asgi_call(app, path, [b"a,b\n"], headers)[0]
    assert answers["fast"] == answers["django"], answers


def test_the_answers_differ_by_caller(stacks, credentials):
    """The comparison above is not between two stacks that refuse everything alike."""
    path = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/runs/log-metric"
    status = {
        caller: asgi_call(
            stacks["fast"], path, [METRIC], {**credentials[caller], "content-type": "application/json"}, method="POST"
        )[0]
        for caller in ("personal token", "a job's token", "revoked token", "a job's token of another workspace")
    }
    assert status == {
        "personal token": 200,
        "a job's token": 200,
        "revoked token": 401,
        "a job's token of another workspace": 404,
    }

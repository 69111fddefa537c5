"""Request bodies through the studio's real ASGI app (studio/asgi.py, in process): large bodies only
on the upload routes and only from a signed-in caller; everything else is held to the request limit
and refused at once (SECURITY.md 38).

A request body here is made as the app reads it, so a test sees how much of it was ever asked for,
and every file opened for writing during the request is recorded: "nothing spooled to disk" is
checked as no file created at all, in FILE_UPLOAD_TEMP_DIR or anywhere else.
"""

import base64
import json
import os
import tempfile

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import get_resolver

from accounts.services import token_create
from core.body_limit import UPLOAD_ROUTES
from jobs.models import Experiment, Job
from tests.conftest import PASSWORD
from tests.workspaces.multipart import CONTENT_TYPE, multipart

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
HUGE = 300 * 1000 * 1000
WS = "/api/v1/workspaces/team-ws"
MLFLOW = "/mlflow/v1.0/workspaces/team-ws/api/2.0"
DATASTORE_FILES = f"{WS}/datastores/workspaceblobstore/files"
ARTIFACT = f"{MLFLOW}/mlflow-artifacts/artifacts/workspaceartifactstore/big.bin"


@pytest.fixture
def app(monkeypatch, settings):
    """The studio's ASGI app, on a test database transaction that nothing may close under it."""
    from assets.data import asgi_chunks
    from core import body_limit
    from studio.asgi import application
    from tracking import http

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for module in (asgi_chunks, body_limit, http):
        monkeypatch.setattr(module, "close_old_connections", lambda: None)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def created_files(monkeypatch, settings, tmp_path):
    """The paths of every file created (opened with O_CREAT or O_TMPFILE) from here on."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.mkdir(tempfile.tempdir)
    created = []
    real_open = os.open

    def recording_open(path, flags, *args, **kwargs):
        if flags & (os.O_CREAT | getattr(os, "O_TMPFILE", 0)):
            created.append(str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    yield created
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    assert os.listdir(tempfile.tempdir) == []


def send(app, method: str, path: str, *, size: int, headers: dict | None = None, chunked: bool = False, head=b""):
    """One request through the ASGI app whose body (`head`, then `x`s up to `size` bytes) is made
    only as the app reads it: -> (response, bytes the app asked for)."""
    asked = 0

    async def body():
        nonlocal asked
        if head:
            asked += len(head)
            yield head
        left = size - len(head)
        while left > 0:
            piece = min(MIB, left)
            asked += piece
            left -= piece
            yield b"x" * piece

    headers = dict(headers or {})
    if not chunked:
        headers["Content-Length"] = str(size)

    async def request():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, path, content=body(), headers=headers)

    return async_to_sync(request)(), asked


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {token_create(user=user, name='t')[1]}"}


def assert_refused_at_once(response, asked: int):
    """413 in the error shape the route's clients read (MLflow's under a tracking URI), no byte
    of the body asked for."""
    assert response.status_code == 413
    body = response.json()
    if response.request.url.path.startswith("/mlflow/"):
        assert body["error_code"] == "INVALID_PARAMETER_VALUE" and "larger than" in body["message"]
    else:
        assert body["error"]["code"] == "RequestEntityTooLarge"
    assert asked == 0


ANONYMOUS_ROUTES = [
    pytest.param("POST", DATASTORE_FILES, id="datastore-upload"),
    pytest.param("PUT", f"{WS}/data/uploads/00000000-0000-4000-8000-000000000000", id="data-chunk"),
    pytest.param("POST", f"{WS}/jobs", id="job-submit"),
    pytest.param("POST", f"{WS}/models", id="model-upload"),
    pytest.param("POST", "/workspaces/team-ws/datastores/workspaceblobstore/upload", id="datastore-upload-page"),
    pytest.param("PUT", ARTIFACT, id="mlflow-artifact"),
    pytest.param("POST", f"{MLFLOW}/mlflow/runs/log-batch", id="mlflow-log-batch"),
    pytest.param("POST", "/accounts/login/", id="sign-in"),
    pytest.param("POST", "/no/such/route", id="no-route"),
]


@pytest.mark.parametrize(("method", "path"), ANONYMOUS_ROUTES)
def test_anonymous_300_mb_body_to_any_route_is_refused_at_once(app, workspace, created_files, method, path):
    """SECURITY 38: an anonymous 300 MB body, upload route or not -> 413 before a byte is read."""
    response, asked = send(app, method, path, size=HUGE)
    assert_refused_at_once(response, asked)
    assert created_files == []


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer stu_not-a-token", id="bad-token"),
        pytest.param("Basic " + base64.b64encode(b"olivia:wrong-password").decode(), id="wrong-password"),
    ],
)
def test_a_large_upload_with_credentials_that_do_not_sign_in_is_refused_at_once(
    app, workspace, created_files, authorization
):
    """SECURITY 38: credentials that name nobody count as anonymous."""
    response, asked = send(app, "PUT", ARTIFACT, size=HUGE, headers={"Authorization": authorization})
    assert_refused_at_once(response, asked)
    assert created_files == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", f"{WS}/data", id="rest-json"),
        pytest.param("POST", f"{MLFLOW}/mlflow/runs/log-batch", id="mlflow-log-batch"),
        pytest.param("POST", "/workspaces/team-ws/settings/", id="form-post"),
    ],
)
def test_a_signed_in_large_body_to_a_route_that_is_no_upload_is_refused_at_once(
    app, owner, workspace, created_files, method, path
):
    """SECURITY 38: a large body to a non-upload route -> 413, whoever sends it."""
    headers = {**bearer(owner), "Content-Type": "application/json"}
    response, asked = send(app, method, path, size=20 * MIB, headers=headers)
    assert_refused_at_once(response, asked)
    assert created_files == []


def test_an_anonymous_chunked_body_is_refused_as_soon_as_it_passes_the_request_limit(
    app, workspace, created_files, settings
):
    """SECURITY 38: no Content-Length to go by: counted as it comes, held in memory, 413 once past
    the request limit; the rest of the 300 MB is never asked for."""
    response, asked = send(app, "POST", DATASTORE_FILES, size=HUGE, chunked=True)
    assert response.status_code == 413
    assert settings.STUDIO_MAX_REQUEST_SIZE < asked <= settings.STUDIO_MAX_REQUEST_SIZE + MIB
    assert created_files == []


def post(app, path: str, body: bytes, headers: dict):
    async def request():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post(path, content=body, headers=headers)

    # Django's test client connects these again after each of its requests: off for this one, so
    # nothing closes the test's transaction under the view (as on PostgreSQL it otherwise would).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return async_to_sync(request)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_a_signed_in_upload_larger_than_the_request_limit_goes_through(app, owner, workspace):
    """The upload limit is for a signed-in caller's uploads: a 6 MiB file sent with a token is stored."""
    from workspaces.storage import datastore_storage

    body = multipart(files=[("six.bin", b"x" * 6 * MIB)])
    response = post(app, DATASTORE_FILES, body, {**bearer(owner), "Content-Type": CONTENT_TYPE})
    assert response.status_code == 201, response.text
    assert datastore_storage(workspace.datastores.get(name="workspaceblobstore")).size("six.bin") == 6 * MIB


def test_a_signed_in_browser_may_upload_past_the_request_limit(app, owner, workspace, client):
    """The session cookie counts as signed in (with its CSRF token, as the upload page sends it)."""
    client.force_login(owner)
    client.get("/workspaces/team-ws/datastores/workspaceblobstore/")
    csrf = client.cookies["csrftoken"].value
    cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"
    body = multipart(files=[("page.bin", b"x" * 5 * MIB)])
    page = "/workspaces/team-ws/datastores/workspaceblobstore/upload"
    headers = {"Content-Type": CONTENT_TYPE, "X-CSRFToken": csrf}
    assert post(app, page, body, {**headers, "Cookie": cookie}).status_code == 200
    assert post(app, page, body, headers).status_code == 413


def test_an_mlflow_artifact_upload_with_basic_auth_goes_through(app, owner, workspace):
    """MLFLOW_TRACKING_USERNAME/PASSWORD (Basic auth) sign in an artifact upload too."""
    credentials = base64.b64encode(f"olivia:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "Content-Type": "application/octet-stream"}
    response, asked = send(app, "PUT", ARTIFACT, size=5 * MIB, headers=headers)
    assert response.status_code == 200, response.text
    assert asked == 5 * MIB


def test_a_one_megabyte_mlflow_log_batch_still_goes_through(app, owner, workspace):
    """The largest JSON the MLflow client sends (log-batch, up to 1 MB) is well within the request limit."""
    experiment = Experiment.objects.create(workspace=workspace, name="exp")
    Job.objects.create(workspace=workspace, experiment=experiment, name="run-1")
    batch = {
        "run_id": "run-1",
        "metrics": [{"key": f"m{i % 10}", "value": i, "timestamp": 1, "step": i} for i in range(800)],
        "params": [{"key": f"p{i}", "value": "v" * 4700} for i in range(100)],
        "tags": [{"key": f"t{i}", "value": "v" * 4700} for i in range(100)],
    }
    body = json.dumps(batch).encode()
    assert 950_000 < len(body) <= 1_000_000  # MLflow's own cap on a batch
    headers = {**bearer(owner), "Content-Type": "application/json"}
    response = post(app, f"{MLFLOW}/mlflow/runs/log-batch", body, headers)
    assert response.status_code == 200, response.text
    assert response.json() == {}


def test_every_upload_route_is_a_route():
    names = get_resolver().reverse_dict
    assert [name for name in UPLOAD_ROUTES if name not in names] == []

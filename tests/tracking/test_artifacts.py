"""The proxied artifact service (`/api/2.0/mlflow-artifacts/artifacts/...`): list, download, upload and
delete over the workspace's datastores, who may do what, and SECURITY.md 5: every traversal form,
in the URL path and in the `path` query argument, is 400 INVALID_PARAMETER_VALUE and writes nothing.

The last tests drive the same routes through the real studio (uvicorn), with raw request lines, so
that what the ASGI server decodes is what is tested, and with the real `mlflow` client.
"""

import filecmp
import http.client
import json
import os
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from workspaces.selectors import datastore_by_name
from workspaces.storage import datastore_storage

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow-artifacts/artifacts"
STORE = "workspaceartifactstore"

# (id, path after `artifacts/`, as the client puts it on the request line)
BAD_URL_PATHS = [
    ("dot-dot", f"{STORE}/../../etc/passwd"),
    ("dot-dot-datastore", f"{STORE}/../workspaceblobstore/x.txt"),
    ("encoded", f"{STORE}/%2e%2e%2f%2e%2e%2fetc/passwd"),
    ("encoded-upper", f"{STORE}/%2E%2E%2F%2E%2E%2Fetc/passwd"),
    ("double-encoded", f"{STORE}/%252e%252e%252f%252e%252e%252fetc/passwd"),
    ("semicolon", f"{STORE}/a;/../../etc/passwd"),
    ("hash", f"{STORE}/a%23b/c.txt"),
    ("backslash", f"{STORE}/..\\..\\x.ini"),
    ("encoded-backslash", f"{STORE}/..%5c..%5cx.ini"),
    ("absolute", "/etc/passwd"),
    ("encoded-absolute", "%2fetc/passwd"),
    ("drive", "C:/Windows/win.ini"),
    ("drive-backslash", "C:%5cWindows%5cwin.ini"),
    ("nul", f"{STORE}/a%00b.txt"),
    ("only-dot-dot", ".."),
]

# (id, value of `path=` as the client means it; the test client percent-encodes it once more)
BAD_QUERY_PATHS = [
    ("dot-dot", f"{STORE}/../../etc"),
    ("dot-dot-datastore", f"{STORE}/../workspaceblobstore"),
    ("encoded", f"{STORE}/%2e%2e%2f%2e%2e%2fetc"),
    ("double-encoded", f"{STORE}/%252e%252e%252f%252e%252e%252fetc"),
    ("semicolon", f"{STORE}/a;/../../etc"),
    ("hash", f"{STORE}/a#b"),
    ("backslash", f"{STORE}/..\\..\\etc"),
    ("absolute", "/etc"),
    ("drive", "C:/Windows"),
    ("drive-backslash", "C:\\Windows"),
    ("nul", f"{STORE}/a\x00b"),
]


@pytest.fixture
def artifacts(workspace):
    """The workspace's artifact store as a Django Storage."""
    return datastore_storage(datastore_by_name(workspace=workspace, name=STORE))


@pytest.fixture
def owner_api(api_client, owner, workspace):
    return api_client(owner)


def put(client, path: str, content: bytes, content_type: str = "application/octet-stream"):
    return client.generic("PUT", f"{BASE}/{path}", content, content_type=content_type)


def tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# -- the round trip --------------------------------------------------------------------------------


def test_upload_download_list_delete(owner_api, artifacts):
    content = os.urandom(3 * 1024 * 1024 + 17)
    response = put(owner_api, f"{STORE}/runs/r1/data/blob.bin", content)
    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert artifacts.open("runs/r1/data/blob.bin").read() == content

    response = owner_api.get(f"{BASE}/{STORE}/runs/r1/data/blob.bin")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")

    put(owner_api, f"{STORE}/runs/r1/notes.txt", b"hello", "text/plain")
    listing = owner_api.get(BASE, {"path": f"{STORE}/runs/r1"})
    assert listing.status_code == 200
    assert listing.json() == {
        "files": [{"path": "data", "is_dir": True}, {"path": "notes.txt", "is_dir": False, "file_size": 5}]
    }
    assert owner_api.get(BASE, {"path": f"{STORE}/runs/r1/data"}).json()["files"] == [
        {"path": "blob.bin", "is_dir": False, "file_size": len(content)}
    ]

    assert owner_api.delete(f"{BASE}/{STORE}/runs/r1/data").status_code == 200
    assert not artifacts.exists("runs/r1/data/blob.bin")
    assert owner_api.get(BASE, {"path": f"{STORE}/runs/r1"}).json()["files"] == [
        {"path": "notes.txt", "is_dir": False, "file_size": 5}
    ]
    assert owner_api.delete(f"{BASE}/{STORE}/runs/r1/notes.txt").status_code == 200
    assert not artifacts.exists("runs/r1/notes.txt")


def test_upload_replaces_the_file_and_accepts_any_content_type(owner_api, artifacts):
    assert put(owner_api, f"{STORE}/a/b.json", b'{"v": 1}', "application/json").status_code == 200
    assert put(owner_api, f"{STORE}/a/b.json", b"second", "text/plain").status_code == 200
    assert artifacts.open("a/b.json").read() == b"second"


def test_empty_file_round_trip(owner_api, artifacts):
    assert put(owner_api, f"{STORE}/empty/file", b"").status_code == 200
    assert artifacts.size("empty/file") == 0
    response = owner_api.get(f"{BASE}/{STORE}/empty/file")
    assert b"".join(response.streaming_content) == b""


def test_html_and_svg_download_as_inert_attachments(owner_api):
    for name, body in (("evil.html", b"<script>alert(1)</script>"), ("evil.svg", b"<svg onload=alert(1)/>")):
        put(owner_api, f"{STORE}/x/{name}", body, "text/html")
        response = owner_api.get(f"{BASE}/{STORE}/x/{name}")
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("attachment")
        assert "sandbox" in response["Content-Security-Policy"]


def test_listing_a_file_or_missing_path_is_empty(owner_api):
    put(owner_api, f"{STORE}/one/file.txt", b"x")
    assert owner_api.get(BASE, {"path": f"{STORE}/one/file.txt"}).json() == {"files": []}
    assert owner_api.get(BASE, {"path": f"{STORE}/no/such/folder"}).json() == {"files": []}


def test_listing_without_a_path_lists_the_datastores(owner_api, workspace):
    files = owner_api.get(BASE).json()["files"]
    assert {"path": STORE, "is_dir": True} in files
    assert {f["path"] for f in files} == set(workspace.datastores.values_list("name", flat=True))


def test_listing_hides_partial_uploads(owner_api, artifacts, workspace):
    put(owner_api, f"{STORE}/p/real.txt", b"x")
    Path(artifacts.path("p/.upload-abc.part")).write_bytes(b"half")
    assert [f["path"] for f in owner_api.get(BASE, {"path": f"{STORE}/p"}).json()["files"]] == ["real.txt"]


def test_download_of_a_folder_or_missing_file_is_not_found(owner_api):
    put(owner_api, f"{STORE}/d/f.txt", b"x")
    for path in (f"{STORE}/d", f"{STORE}/d/missing.txt"):
        response = owner_api.get(f"{BASE}/{path}")
        assert response.status_code == 404
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_upload_onto_a_folder_or_below_a_file_is_refused(owner_api, artifacts):
    put(owner_api, f"{STORE}/d/f.txt", b"x")
    for path in (f"{STORE}/d", f"{STORE}/d/f.txt/inner.txt"):
        response = put(owner_api, path, b"y")
        assert response.status_code == 400, path
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert artifacts.open("d/f.txt").read() == b"x"


def test_the_datastore_root_itself_cannot_be_written_or_deleted(owner_api, artifacts):
    put(owner_api, f"{STORE}/keep.txt", b"x")
    for method in ("put", "delete"):
        response = getattr(owner_api, method)(f"{BASE}/{STORE}", b"", content_type="application/octet-stream")
        assert response.status_code == 400
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert artifacts.exists("keep.txt")


def test_unknown_datastore_is_invalid(owner_api):
    for response in (
        owner_api.get(BASE, {"path": "nosuchstore/x"}),
        owner_api.get(f"{BASE}/nosuchstore/x"),
        put(owner_api, "nosuchstore/x", b"x"),
        owner_api.delete(f"{BASE}/nosuchstore/x"),
    ):
        assert response.status_code == 400
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_other_methods_are_not_endpoints(owner_api):
    for method in ("PATCH", "POST"):
        response = owner_api.generic(method, f"{BASE}/{STORE}/x.txt", b"{}", content_type="application/json")
        assert response.status_code == 404
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "GET, PUT, DELETE" in response.json()["message"]


def test_deleting_a_missing_path_is_no_error(owner_api):
    assert owner_api.delete(f"{BASE}/{STORE}/never/was").status_code == 200


def test_other_datastores_of_the_workspace_are_reachable(owner_api, workspace):
    blobs = datastore_storage(datastore_by_name(workspace=workspace, name="workspaceblobstore"))
    assert put(owner_api, "workspaceblobstore/from-mlflow.txt", b"b").status_code == 200
    assert blobs.open("from-mlflow.txt").read() == b"b"


# -- who may do what -------------------------------------------------------------------------------


def test_reader_reads_but_cannot_write(api_client, owner_api, reader, artifacts):
    put(owner_api, f"{STORE}/shared/f.txt", b"x")
    client = api_client(reader)
    assert client.get(BASE, {"path": f"{STORE}/shared"}).status_code == 200
    assert b"".join(client.get(f"{BASE}/{STORE}/shared/f.txt").streaming_content) == b"x"
    for response in (put(client, f"{STORE}/shared/g.txt", b"y"), client.delete(f"{BASE}/{STORE}/shared/f.txt")):
        assert response.status_code == 403
        assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert artifacts.exists("shared/f.txt")
    assert not artifacts.exists("shared/g.txt")


def test_outsider_and_anonymous_reach_nothing(api_client, owner_api, outsider, artifacts):
    put(owner_api, f"{STORE}/secret/f.txt", b"x")
    for client, status in ((api_client(outsider), 404), (api_client(None), 401)):
        assert client.get(BASE, {"path": f"{STORE}/secret"}).status_code == status
        assert client.get(f"{BASE}/{STORE}/secret/f.txt").status_code == status
        assert put(client, f"{STORE}/secret/g.txt", b"y").status_code == status
        assert client.delete(f"{BASE}/{STORE}/secret/f.txt").status_code == status
    assert artifacts.exists("secret/f.txt")
    assert not artifacts.exists("secret/g.txt")


def test_upload_from_a_foreign_page_is_refused(api_client, owner, artifacts):
    client = api_client(owner)
    response = client.generic(
        "PUT", f"{BASE}/{STORE}/csrf.txt", b"x", content_type="text/plain", HTTP_ORIGIN="https://evil.test"
    )
    assert response.status_code == 403
    assert not artifacts.exists("csrf.txt")


# -- SECURITY.md 5 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("path", [p for _, p in BAD_URL_PATHS], ids=[i for i, _ in BAD_URL_PATHS])
def test_traversal_in_the_url_path_is_invalid(owner_api, settings, method, path):
    root = Path(settings.STUDIO_DATA_DIR)
    sentinel = root / "etc" / "passwd"
    sentinel.parent.mkdir(parents=True, exist_ok=True)
    sentinel.write_bytes(b"root:x:0:0")
    before = tree_files(root)
    response = owner_api.generic(method, f"{BASE}/{path}", b"pwned", content_type="application/octet-stream")
    assert response.status_code == 400, (method, path, response.status_code)
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert tree_files(root) == before
    assert sentinel.read_bytes() == b"root:x:0:0"


@pytest.mark.parametrize("path", [p for _, p in BAD_QUERY_PATHS], ids=[i for i, _ in BAD_QUERY_PATHS])
def test_traversal_in_the_path_argument_is_invalid(owner_api, path):
    response = owner_api.get(BASE, {"path": path})
    assert response.status_code == 400, (path, response.content)
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# -- through the real server -----------------------------------------------------------------------


LIVE_BASE = "/mlflow/v1.0/workspaces/my-workspace/api/2.0/mlflow-artifacts/artifacts"


def raw_request(studio, token: str, method: str, target: str, body: bytes = b""):
    """Send the request line exactly as given (no client-side normalisation); (status, JSON)."""
    parts = urlsplit(studio.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def live_token(studio):
    return studio.token()


@pytest.mark.e2e
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("path", [p for _, p in BAD_URL_PATHS], ids=[i for i, _ in BAD_URL_PATHS])
def test_live_traversal_in_the_url_path_is_invalid(studio, live_token, method, path):
    status, body = raw_request(studio, live_token, method, f"{LIVE_BASE}/{path}", b"pwned")
    assert status == 400, (method, path, status, body[:300])
    assert b"INVALID_PARAMETER_VALUE" in body


@pytest.mark.e2e
@pytest.mark.parametrize(
    "query",
    [
        f"{STORE}/../../etc",
        f"{STORE}/%2e%2e%2f%2e%2e%2fetc",
        f"{STORE}/%252e%252e%252f%252e%252e%252fetc",
        f"{STORE}/a;/../../etc",
        f"{STORE}/a%23b",
        f"{STORE}/..%5c..%5cetc",
        "%2fetc",
        "C:/Windows",
        f"{STORE}/a%00b",
    ],
)
def test_live_traversal_in_the_path_argument_is_invalid(studio, live_token, query):
    status, body = raw_request(studio, live_token, "GET", f"{LIVE_BASE}?path={query}")
    assert status == 400, (query, status, body[:300])
    assert b"INVALID_PARAMETER_VALUE" in body


@pytest.mark.e2e
def test_live_upload_cut_short_leaves_nothing(studio, live_token):
    """The client goes away after part of the body: no file, not even a partial one."""
    target = f"{LIVE_BASE}/{STORE}/cut-{uuid.uuid4().hex[:8]}/short.bin"
    parts = urlsplit(studio.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("PUT", target, skip_accept_encoding=True)
    conn.putheader("Authorization", f"Bearer {live_token}")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(4 * 1024 * 1024))
    conn.endheaders(b"x" * 100_000)
    conn.close()
    time.sleep(1)
    folder = target.rsplit("/", 1)[0].removeprefix(LIVE_BASE + "/")
    status, body = raw_request(studio, live_token, "GET", target)
    assert status == 404, body[:300]
    status, body = raw_request(studio, live_token, "GET", f"{LIVE_BASE}?path={folder}")
    assert (status, json.loads(body)) == (200, {"files": []})


@pytest.fixture
def tracking_uri(studio, live_token, monkeypatch):
    """The real mlflow client pointed at my-workspace with the admin's token."""
    import mlflow

    uri = studio.url + "/mlflow/v1.0/workspaces/my-workspace"
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", live_token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.mark.e2e
def test_mlflow_client_artifact_round_trip(tracking_uri, tmp_path):
    import mlflow
    from mlflow.artifacts import download_artifacts

    source = tmp_path / "source"
    (source / "nested" / "deeper").mkdir(parents=True)
    (source / "a.txt").write_text("alpha\n")
    (source / "nested" / "b.bin").write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    (source / "nested" / "deeper" / "c.html").write_text("<script>alert(1)</script>")
    (source / "empty.dat").write_bytes(b"")
    single = tmp_path / "single.csv"
    single.write_text("x,y\n1,2\n")

    mlflow.set_experiment(f"artifacts-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/workspaceartifactstore/")
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="tables")
        mlflow.log_artifacts(str(source), artifact_path="tree")
        mlflow.log_text("logged text", "notes/text.txt")
        mlflow.log_dict({"k": [1, 2]}, "notes/d.json")
    client = mlflow.MlflowClient()
    run_id = run.info.run_id

    assert {(f.path, f.is_dir) for f in client.list_artifacts(run_id)} == {
        ("single.csv", False),
        ("tables", True),
        ("tree", True),
        ("notes", True),
    }
    tree = {f.path: f for f in client.list_artifacts(run_id, "tree")}
    assert set(tree) == {"tree/a.txt", "tree/empty.dat", "tree/nested"}
    assert tree["tree/a.txt"].file_size == 6
    assert client.list_artifacts(run_id, "single.csv") == []

    downloaded = Path(download_artifacts(run_id=run_id, artifact_path="tree", dst_path=str(tmp_path / "dl")))
    assert tree_files(downloaded) == tree_files(source)
    for relative in tree_files(source):
        assert filecmp.cmp(source / relative, downloaded / relative, shallow=False), relative

    whole = Path(download_artifacts(run_id=run_id, dst_path=str(tmp_path / "all")))
    assert (whole / "single.csv").read_bytes() == single.read_bytes()
    assert (whole / "tables" / "single.csv").read_bytes() == single.read_bytes()
    assert (whole / "notes" / "text.txt").read_text() == "logged text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/notes/d.json") == {"k": [1, 2]}

    one = Path(download_artifacts(artifact_uri=f"{run.info.artifact_uri}/tree/a.txt", dst_path=str(tmp_path / "one")))
    assert one.read_text() == "alpha\n"

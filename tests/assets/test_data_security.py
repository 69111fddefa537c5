"""SECURITY.md cases 1-4 and 24 for the Data section, each through the routes a client uses: the
file the studio writes is always below its generated key, active content is never rendered, size
limits hold, huge multipart and JSON bodies are refused, and bad YAML creates nothing."""

from pathlib import Path

import pytest

from assets.data import uploads
from assets.models import DataAsset, UploadSession
from tests.workspaces.multipart import CONTENT_TYPE, field_part, file_part
from tests.workspaces.multipart import end as multipart_end

from .data_support import API, CSV, _fast_password_hashing, api_upload, blob_root, stored_files  # noqa: F401

pytestmark = pytest.mark.django_db
HTML = "/workspaces/team-ws/data/"


@pytest.fixture
def client(owner, workspace, api_client):
    return api_client(owner)


@pytest.fixture
def data_tree(settings):
    root = Path(settings.STUDIO_DATA_DIR)
    return lambda: {str(p.relative_to(root)) for p in root.rglob("*") if "uploads" not in p.parts}


# 1. Names that try to leave the datastore -----------------------------------------------------------

BAD_NAMES = ["../../etc/passwd", "..\\..\\x.ini", "/abs.csv", "a\x00b", "..", "%2e%2e%2fx", "C:/x.csv", "a#b"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_1_a_bad_relative_path_for_an_upload_is_a_400_and_nothing_is_written(client, workspace, data_tree, bad):
    upload_id = api_upload(client, "ok.csv", CSV)
    before = data_tree()
    response = client.post(
        API, {"name": "d", "type": "uri_folder", "uploads": [{"id": upload_id, "path": bad}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(("uploads: ", "uploads.path: "))
    assert data_tree() == before and not DataAsset.objects.exists()


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\evil.csv", "/etc/passwd"])
def test_1_the_stored_key_is_generated_whatever_the_file_was_called(client, workspace, name):
    """A name that is only *shaped* badly is refused; a safe one is metadata beside a generated key."""
    assert client.post(f"{API}/uploads", {"file_name": name, "size": 1}, format="json").status_code == 400
    upload_id = api_upload(client, "report.csv", CSV)
    body = client.post(API, {"name": "r", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json").json()
    prefix, key, stored_name = body["relative_path"].split("/")
    assert (prefix, len(key), stored_name) == ("LocalUpload", 32, "report.csv")
    assert stored_files(workspace) == {body["relative_path"]}


# 2. Active content -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"), [("evil.html", b"<script>alert(1)</script>"), ("evil.svg", b"<svg onload=alert(1)/>")]
)
def test_2_uploaded_html_and_svg_are_never_served_as_active_content(
    client, owner, browser_client, workspace, name, content
):
    upload_id = api_upload(client, name, content)
    client.post(API, {"name": "evil", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
    for response in (
        browser_client(owner).get(f"{HTML}evil/1/download"),
        client.get(f"{API}/evil/versions/1/files/content"),
    ):
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
    explore = browser_client(owner).get(f"{HTML}evil/1/explore/").content
    assert content not in explore


# 3. Size limit ---------------------------------------------------------------------------------------


def test_3_an_upload_over_the_limit_is_413_with_no_row_and_no_file(client, settings, data_tree):
    settings.STUDIO_MAX_UPLOAD_SIZE = 10_000
    before = data_tree()
    response = client.post(f"{API}/uploads", {"file_name": "big.bin", "size": 10_001}, format="json")
    assert response.status_code == 413
    assert not UploadSession.objects.exists() and data_tree() == before
    assert not uploads.staging_dir().exists() or not list(uploads.staging_dir().iterdir())


def test_3_a_chunk_larger_than_a_chunk_may_be_is_413(client, settings):
    settings.STUDIO_MAX_UPLOAD_SIZE = 10 * uploads.MAX_CHUNK_BYTES
    upload_id = client.post(
        f"{API}/uploads", {"file_name": "a", "size": 2 * uploads.MAX_CHUNK_BYTES}, format="json"
    ).json()["id"]
    response = client.generic(
        "PUT",
        f"{API}/uploads/{upload_id}",
        b"x",
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes 0-{uploads.MAX_CHUNK_BYTES}/{2 * uploads.MAX_CHUNK_BYTES}",
    )
    assert response.status_code == 413
    assert UploadSession.objects.get().received == 0


# 4. Huge bodies ------------------------------------------------------------------------------------


def test_4_ten_thousand_multipart_parts_to_the_yaml_form_are_refused(owner, browser_client, workspace, data_tree):
    before = data_tree()
    body = b"".join(file_part("yaml_file", f"f{i}.yml", b"x") for i in range(10_000)) + multipart_end()
    response = browser_client(owner).generic("POST", f"{HTML}create/?source=yaml", body, content_type=CONTENT_TYPE)
    assert response.status_code == 400
    fields = b"".join(field_part(f"n{i}", "x") for i in range(10_000)) + multipart_end()
    response = browser_client(owner).generic("POST", f"{HTML}create/?source=yaml", fields, content_type=CONTENT_TYPE)
    assert response.status_code == 400
    assert data_tree() == before and not DataAsset.objects.exists()


def test_4_a_json_create_naming_ten_thousand_and_one_uploads_is_refused(client):
    uploads_list = [{"id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(10_001)]
    response = client.post(API, {"name": "many", "type": "uri_folder", "uploads": uploads_list}, format="json")
    assert response.status_code == 400
    assert "At most 10000 files" in response.json()["error"]["message"]


# 24. Bad YAML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        pytest.param("name: a\ntype: uri_file\npath: [oops\n", "yaml", 4, id="malformed"),
        pytest.param(
            "name: a\ntype: dataset\npath: azureml://datastores/workspaceblobstore/paths/a\n",
            "type",
            2,
            id="unknown-type",
        ),
        pytest.param("name: a\ntype: uri_file\n", "path", None, id="missing-path"),
        pytest.param(
            "name: a\ntype: uri_file\npath: azureml://datastores/workspaceblobstore/paths/../../x\n",
            "path",
            3,
            id="dotdot",
        ),
        pytest.param(
            "name: a\ntype: uri_file\npath: azureml://datastores/ghost/paths/x.csv\n", "path", 3, id="no-datastore"
        ),
        pytest.param("name: a\ntype: uri_file\npath: /etc/passwd\n", "path", 3, id="absolute-local"),
    ],
)
def test_24_bad_yaml_is_a_400_naming_the_field_and_line_and_creates_nothing(client, data_tree, text, field, line):
    before = data_tree()
    response = client.post(API, {"yaml": text}, format="json")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith(f"{field}: ")
    if line:
        assert f"line {line}" in message
    assert data_tree() == before and not DataAsset.objects.exists()

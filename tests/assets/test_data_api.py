"""The data REST API: create from each source, list, @latest, versions, edit, archive/restore,
files and downloads; who may do what (SECURITY.md 1-4, 9, 10)."""

import io
import zipfile

import pytest

from assets.models import DataAsset, UploadSession

from .data_support import API, CSV, _fast_password_hashing, api_upload, put_file, stored_files  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner, workspace, api_client):
    return api_client(owner)


def create(client, **body):
    return client.post(API, body, format="json")


def test_create_from_a_datastore_path_and_show_it_as_az_does(client, workspace):
    put_file(workspace, "raw/iris.csv", CSV)
    response = create(
        client,
        name="iris",
        type="uri_file",
        datastore="workspaceblobstore",
        path="raw/iris.csv",
        description="Fisher's *iris*",
        tags={"source": "uci"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == "azureml:iris:1"
    assert body["path"] == "azureml://datastores/workspaceblobstore/paths/raw/iris.csv"
    assert (body["type"], body["version"], body["size"], body["created_by"]) == ("uri_file", "1", len(CSV), "olivia")
    assert client.get(f"{API}/iris/versions/1").json() == body


def test_create_from_a_uri(client, workspace):
    put_file(workspace, "raw/a.csv", CSV)
    response = create(client, name="raw", type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/raw")
    assert response.status_code == 201
    assert response.json()["path"] == "azureml://datastores/workspaceblobstore/paths/raw/"


def test_create_from_uploaded_folder(client, workspace):
    ids = [{"id": api_upload(client, p, CSV), "path": p} for p in ("flowers/a.csv", "flowers/b/c.csv")]
    response = create(client, name="flowers", type="uri_folder", uploads=ids)
    assert response.status_code == 201, response.content
    listing = client.get(f"{API}/flowers/versions/1/files").json()
    assert listing == [{"path": "a.csv", "size": len(CSV)}, {"path": "b/c.csv", "size": len(CSV)}]
    archive = client.get(f"{API}/flowers/versions/1/files/content")
    assert archive["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as zipped:
        assert sorted(zipped.namelist()) == ["a.csv", "b/c.csv"]
    one = client.get(f"{API}/flowers/versions/1/files/content", {"path": "b/c.csv"})
    assert b"".join(one.streaming_content) == CSV


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"type": "uri_table", "path": "raw/a.csv"}, "type", id="unknown-type"),
        pytest.param({"type": "uri_file"}, "path", id="missing-path"),
        pytest.param({"type": "uri_file", "path": "../../etc/passwd"}, "path", id="dotdot"),
        pytest.param({"type": "uri_file", "path": "/etc/passwd"}, "path", id="absolute"),
        pytest.param(
            {"type": "uri_file", "datastore": "elsewhere", "path": "raw/a.csv"}, "datastore", id="no-datastore"
        ),
        pytest.param(
            {"type": "uri_file", "path": "azureml://datastores/elsewhere/paths/a.csv"}, "path", id="no-datastore-uri"
        ),
        pytest.param({"type": "uri_file", "uploads": [{"id": "not-a-uuid"}]}, "uploads", id="bad-upload-id"),
        pytest.param({"type": "uri_file", "name": "", "path": "raw/a.csv"}, "name", id="no-name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, workspace, body, field):
    put_file(workspace, "raw/a.csv", CSV)
    response = create(client, **{"name": "d", **body})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith(f"{field}"), response.json()
    assert not DataAsset.objects.exists()


def test_duplicate_name_and_version_is_a_409_naming_them(client, workspace):
    put_file(workspace, "raw/a.csv", CSV)
    assert create(client, name="d", version="7", type="uri_file", path="raw/a.csv").status_code == 201
    response = create(client, name="d", version="7", type="uri_file", path="raw/a.csv")
    assert response.status_code == 409
    assert "d:7 already exists" in response.json()["error"]["message"]


def test_list_latest_and_versions_hide_archived_unless_asked(client, workspace):
    put_file(workspace, "a.csv", CSV)
    for _ in range(2):
        create(client, name="d", type="uri_file", path="a.csv")
    assert client.get(f"{API}/d").json()["version"] == "2"
    assert client.post(f"{API}/d/versions/2/archive").json()["is_archived"] is True
    assert client.get(f"{API}/d").json()["version"] == "1"
    assert [a["version"] for a in client.get(API).json()] == ["1"]
    assert [a["version"] for a in client.get(API, {"include_archived": "true"}).json()] == ["2", "1"]
    assert [a["version"] for a in client.get(f"{API}/d/versions", {"include_archived": "1"}).json()] == ["2", "1"]
    client.post(f"{API}/d/versions/2/restore")
    assert client.get(f"{API}/d").json()["version"] == "2"


def test_edit_description_and_tags(client, workspace):
    put_file(workspace, "a.csv", CSV)
    create(client, name="d", type="uri_file", path="a.csv")
    response = client.patch(f"{API}/d/versions/1", {"description": "new", "tags": {"k": "v"}}, format="json")
    assert (response.json()["description"], response.json()["tags"]) == ("new", {"k": "v"})


def test_missing_asset_is_a_404(client):
    assert client.get(f"{API}/nope/versions/1").status_code == 404
    assert client.get(f"{API}/nope").status_code == 404


def test_delete_removes_the_version_and_its_uploaded_files(client, workspace):
    upload_id = api_upload(client, "a.csv", CSV)
    create(client, name="d", type="uri_file", uploads=[{"id": upload_id}])
    assert client.delete(f"{API}/d/versions/1").status_code == 204
    assert not DataAsset.objects.exists()
    assert stored_files(workspace) == set()


# Who may do what ---------------------------------------------------------------------------------


@pytest.fixture
def existing(client, workspace):
    put_file(workspace, "a.csv", CSV)
    assert create(client, name="d", type="uri_file", path="a.csv").status_code == 201


def test_reader_can_read_but_not_create_archive_edit_or_delete(existing, reader, api_client):
    client = api_client(reader)
    assert client.get(API).status_code == 200
    assert client.get(f"{API}/d/versions/1").status_code == 200
    assert client.get(f"{API}/d/versions/1/files/content").status_code == 200
    assert create(client, name="e", type="uri_file", path="a.csv").status_code == 403
    assert client.post(f"{API}/d/versions/1/archive").status_code == 403
    assert client.patch(f"{API}/d/versions/1", {"description": "x"}, format="json").status_code == 403
    assert client.delete(f"{API}/d/versions/1").status_code == 403
    assert client.post(f"{API}/uploads", {"file_name": "a", "size": 1}, format="json").status_code == 403
    asset = DataAsset.objects.get()
    assert (asset.is_archived, asset.description, DataAsset.objects.count()) == (False, "", 1)
    assert not UploadSession.objects.exists()


def test_an_outsider_gets_404_for_everything(existing, outsider, api_client):
    client = api_client(outsider)
    assert client.get(f"{API}/d/versions/1").status_code == 404
    assert client.get(API).status_code == 404
    assert create(client, name="e", type="uri_file", path="a.csv").status_code == 404


@pytest.mark.parametrize("name", ["evil.html", "evil.svg"])
def test_active_content_is_downloaded_as_an_attachment_never_rendered(client, workspace, name):
    upload_id = api_upload(client, name, b"<script>alert(1)</script><svg onload=alert(1)>")
    create(client, name="evil", type="uri_file", uploads=[{"id": upload_id}])
    response = client.get(f"{API}/evil/versions/1/files/content")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["../../etc/passwd", "%2e%2e/%2e%2e/x", "/etc/passwd", "a\\b"])
def test_downloading_a_path_outside_the_asset_is_refused(client, workspace, path):
    ids = [{"id": api_upload(client, "f/a.csv", CSV), "path": "f/a.csv"}]
    create(client, name="f", type="uri_folder", uploads=ids)
    response = client.get(f"{API}/f/versions/1/files/content", {"path": path})
    assert response.status_code == 400


def test_the_upload_routes_are_in_the_openapi_schema(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    chunk = schema["paths"]["/api/v1/workspaces/{workspace}/data/uploads/{upload_id}"]["put"]
    assert "application/octet-stream" in chunk["requestBody"]["content"]
    assert any(p["name"] == "Content-Range" for p in chunk["parameters"])
    assert "409" in chunk["responses"]
    assert "post" in schema["paths"]["/api/v1/workspaces/{workspace}/data/uploads"]
    assert "post" in schema["paths"]["/api/v1/workspaces/{workspace}/data"]

"""Registering datastores with bad input, keeping their credentials secret, and refusing paths
that leave the datastore; through the REST API and the HTML pages."""

import io
from urllib.parse import quote

import pytest
from django.db import connection

from workspaces.models import Datastore
from workspaces.services import DatastoreSpec, datastore_register
from workspaces.storage import datastore_storage

pytestmark = pytest.mark.django_db

API = "/api/v1/workspaces/team-ws/datastores"
HTML = "/workspaces/team-ws/datastores"
SECRET = "c2VjcmV0LWtleS10aGF0LW11c3Qtc3RheS1oaWRkZW4="
# An S3 endpoint that refuses connections at once, so pages that list the datastore stay fast
# (allow-listed where it is used: it is not a public https address).
DEAD_ENDPOINT = "http://127.0.0.1:9"


def bad_registrations():
    blob = {"name": "lake", "kind": "azure_blob", "account_name": "acct", "container_name": "raw"}
    return [
        pytest.param({**blob, "container_name": ""}, "container_name", "container", id="no-container"),
        pytest.param({**blob, "account_name": ""}, "account_name", "account", id="no-account"),
        pytest.param({**blob, "kind": "ftp"}, "kind", "ftp", id="unknown-kind"),
        pytest.param({**blob, "name": ""}, "name", "datastore name", id="no-name"),
        pytest.param({**blob, "name": "bad name"}, "name", "letters", id="bad-name"),
        pytest.param({**blob, "root": "../other"}, "root", "..", id="root-dotdot"),
        pytest.param({**blob, "root": "%2e%2e/other"}, "root", "..", id="root-encoded-dotdot"),
        pytest.param({"name": "s3", "kind": "s3", "container_name": ""}, "container_name", "bucket", id="no-bucket"),
        pytest.param({"name": "disk", "kind": "local", "root": ""}, "root", "folder", id="local-without-root"),
        pytest.param({"name": "disk", "kind": "local", "root": "/etc"}, "root", "must be inside", id="local-etc"),
        pytest.param(
            {"name": "disk", "kind": "local", "root": "{shared}/../../escape"},
            "root",
            "must be inside",
            id="local-dotdot",
        ),
    ]


def _fill(payload: dict, tmp_path) -> dict:
    return {k: v.replace("{shared}", str(tmp_path / "shared")) if isinstance(v, str) else v for k, v in payload.items()}


@pytest.mark.parametrize(("payload", "field", "words"), bad_registrations())
def test_api_refuses_a_bad_datastore_naming_the_field(payload, field, words, admin_owner, api_client, tmp_path):
    before = Datastore.objects.count()
    response = api_client(admin_owner).post(API, _fill(payload, tmp_path), format="json")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith(f"{field}: ")
    assert words in message
    assert Datastore.objects.count() == before
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize(("payload", "field", "words"), bad_registrations())
def test_html_form_shows_a_bad_datastore_on_its_field(payload, field, words, admin_owner, browser_client, tmp_path):
    before = Datastore.objects.count()
    response = browser_client(admin_owner).post(f"{HTML}/new/", _fill(payload, tmp_path))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert Datastore.objects.count() == before
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("name", ["workspaceblobstore", "lake"])
def test_api_refuses_a_taken_datastore_name_with_409(name, owner, workspace, api_client):
    payload = {"name": name, "kind": "azure_blob", "account_name": "acct", "container_name": "raw"}
    client = api_client(owner)
    if name == "lake":
        assert client.post(API, payload, format="json").status_code == 201
    before = Datastore.objects.count()
    response = client.post(API, payload, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == f"name: A datastore named {name!r} already exists in team-ws."
    assert Datastore.objects.count() == before


def test_html_form_shows_a_taken_datastore_name_on_the_name_field(owner, workspace, browser_client):
    payload = {"name": "workspaceblobstore", "kind": "azure_blob", "account_name": "acct", "container_name": "raw"}
    response = browser_client(owner).post(f"{HTML}/new/", payload)
    assert "already exists" in response.context["form"].errors["name"][0]


def test_api_refuses_credentials_of_another_kind(owner, workspace, api_client):
    payload = {"name": "bucket", "kind": "s3", "container_name": "b", "credentials": {"account_key": SECRET}}
    response = api_client(owner).post(API, payload, format="json")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("credentials: ")
    assert SECRET not in message
    assert not Datastore.objects.filter(name="bucket").exists()


def test_local_datastore_inside_the_allowed_roots_is_created_with_its_folder(admin_owner, api_client, tmp_path):
    response = api_client(admin_owner).post(
        API, {"name": "disk", "kind": "local", "root": str(tmp_path / "shared" / "disk")}, format="json"
    )
    assert response.status_code == 201
    assert (tmp_path / "shared" / "disk").is_dir()


# Credentials ------------------------------------------------------------------------------------


@pytest.fixture
def s3_store(owner, workspace, settings):
    settings.STUDIO_DATASTORE_ENDPOINT_ALLOWLIST = ["127.0.0.1:9"]
    return datastore_register(
        workspace=workspace,
        user=owner,
        spec=DatastoreSpec(
            name="bucket",
            kind="s3",
            container_name="data",
            endpoint=DEAD_ENDPOINT,
            credentials={"access_key_id": "AKIAEXAMPLE", "secret_access_key": SECRET},
        ),
    )


def raw_credentials_column(datastore) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials_encrypted FROM workspaces_datastore WHERE id = %s", [datastore.pk])
        return cursor.fetchone()[0]


def test_credentials_are_stored_encrypted(s3_store):
    stored = raw_credentials_column(s3_store)
    assert stored
    assert SECRET not in stored
    assert "AKIAEXAMPLE" not in stored
    assert "secret_access_key" not in stored
    assert datastore_storage(s3_store).secret_key == SECRET


def test_api_registration_response_never_returns_credentials(owner, workspace, api_client):
    payload = {
        "name": "lake",
        "kind": "azure_blob",
        "account_name": "acct",
        "container_name": "raw",
        "credentials": {"account_key": SECRET},
    }
    response = api_client(owner).post(API, payload, format="json")
    assert response.status_code == 201
    assert SECRET not in response.content.decode()
    assert response.json()["credential_type"] == "account_key"
    assert SECRET not in raw_credentials_column(Datastore.objects.get(name="lake"))


def test_api_registers_an_s3_datastore_with_a_key_pair(owner, workspace, api_client):
    payload = {
        "name": "bucket",
        "kind": "s3",
        "container_name": "data",
        "credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": SECRET},
    }
    response = api_client(owner).post(API, payload, format="json")
    assert response.status_code == 201
    assert response.json()["credential_type"] == "access_key_id+secret_access_key"
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize("role", ["owner", "reader"])
def test_api_list_and_detail_never_return_credentials(role, request, s3_store, api_client):
    client = api_client(request.getfixturevalue(role))
    for url in (API, f"{API}/bucket"):
        response = client.get(url)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
        assert "AKIAEXAMPLE" not in response.content.decode()


@pytest.mark.parametrize("role", ["owner", "reader"])
def test_html_list_and_detail_never_show_credentials(role, request, s3_store, browser_client):
    client = browser_client(request.getfixturevalue(role))
    listing = client.get(f"{HTML}/")
    assert "Stored encrypted" in listing.content.decode()
    for response in (listing, client.get(f"{HTML}/bucket/")):
        assert response.status_code == 200
        assert SECRET not in response.content.decode()


def test_html_form_does_not_echo_a_secret_back_after_an_error(owner, workspace, browser_client):
    response = browser_client(owner).post(
        f"{HTML}/new/",
        {"name": "", "kind": "azure_blob", "account_name": "acct", "container_name": "raw", "account_key": SECRET},
    )
    assert "name" in response.context["form"].errors
    assert SECRET not in response.content.decode()


def test_html_registration_stores_credentials_encrypted(owner, workspace, browser_client):
    response = browser_client(owner).post(
        f"{HTML}/new/",
        {"name": "lake", "kind": "azure_blob", "account_name": "acct", "container_name": "raw", "sas_token": SECRET},
    )
    assert response.status_code == 302
    datastore = Datastore.objects.get(name="lake")
    assert datastore.credential_type == "sas_token"
    assert SECRET not in raw_credentials_column(datastore)


# Paths inside a datastore -----------------------------------------------------------------------

BAD_PATHS = ["../x", "..", "a/../../b", "%2e%2e/x", "%252e%252e%252fx", "/etc/passwd", "a\\b", "C:/x", "a#b"]


@pytest.fixture
def blob_with_file(workspace):
    storage = datastore_storage(workspace.datastores.get(name="workspaceblobstore"))
    storage.save("keep/me.csv", io.BytesIO(b"1,2\n"))
    return storage


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_api_refuses_paths_leaving_the_datastore(bad, owner, blob_with_file, api_client):
    client = api_client(owner)
    base = f"{API}/workspaceblobstore/files"
    for response in (
        client.get(base, {"path": bad}),
        client.get(f"{base}/content", {"path": bad}),
        client.delete(f"{base}?path={quote(bad)}"),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("path: ")
    assert blob_with_file.exists("keep/me.csv")


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_html_refuses_paths_leaving_the_datastore(bad, owner, blob_with_file, browser_client):
    client = browser_client(owner)
    base = f"{HTML}/workspaceblobstore"
    for url in (f"{base}/", f"{base}/download", f"{base}/preview"):
        response = client.get(url, {"path": bad})
        assert response.status_code == 400, url
    response = client.post(f"{base}/delete", {"path": bad}, follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert f"(got {bad!r})" in message
    assert blob_with_file.exists("keep/me.csv")


def test_deleting_a_folder_through_the_api_removes_it(owner, blob_with_file, api_client):
    response = api_client(owner).delete(f"{API}/workspaceblobstore/files?path=keep")
    assert response.json() == {"deleted": 1}
    assert not blob_with_file.exists("keep/me.csv")


def test_workspace_datastores_cannot_be_unregistered(owner, workspace, api_client):
    response = api_client(owner).delete(f"{API}/workspaceblobstore")
    assert response.status_code == 400
    assert "belongs to the workspace" in response.json()["error"]["message"]
    assert workspace.datastores.filter(name="workspaceblobstore").exists()


def test_unregistering_a_datastore_keeps_its_data(admin_owner, api_client, tmp_path):
    client = api_client(admin_owner)
    client.post(API, {"name": "disk", "kind": "local", "root": str(tmp_path / "shared" / "disk")}, format="json")
    (tmp_path / "shared" / "disk" / "a.csv").write_text("1")
    assert client.delete(f"{API}/disk").status_code == 204
    assert not Datastore.objects.filter(name="disk").exists()
    assert (tmp_path / "shared" / "disk" / "a.csv").exists()


def test_html_delete_returns_to_the_parent_folder(owner, workspace, browser_client):
    storage = datastore_storage(workspace.datastores.get(name="workspaceblobstore"))
    storage.save("a&b/c.csv", io.BytesIO(b"1"))
    response = browser_client(owner).post(f"{HTML}/workspaceblobstore/delete", {"path": "a&b/c.csv"})
    assert response.status_code == 302
    assert response["Location"] == f"{HTML}/workspaceblobstore/?path=a%26b"
    assert not storage.exists("a&b/c.csv")


def _shown_fields(html: str) -> set[str]:
    import re

    return set(re.findall(r'<div data-kinds="[^"]*" data-testid="field-(\w+)">', html))


def test_html_form_first_shows_the_fields_of_its_kind(owner, workspace, browser_client):
    client = browser_client(owner)
    blob = client.get(f"{HTML}/new/").content.decode()
    assert _shown_fields(blob) == {
        "account_name",
        "container_name",
        "endpoint",
        "root",
        "account_key",
        "sas_token",
        "connection_string",
    }
    assert 'id="datastore-kind-texts"' in blob and "js/datastore-form.js" in blob
    # After an error, the page comes back showing the kind that was chosen.
    s3 = client.post(f"{HTML}/new/", {"name": "b", "kind": "s3"}).content.decode()
    assert _shown_fields(s3) == {"container_name", "endpoint", "root", "access_key_id", "secret_access_key"}
    assert "Give the bucket name." in s3 and ">Bucket<" in s3

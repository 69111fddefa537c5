"""The model REST API (/api/v1/workspaces/<ws>/models...): register three ways, list, show, files,
download, archive and restore; who may do what."""

import io
import json
import zipfile

import pytest

from assets.models import Model
from workspaces.storage import datastore_storage

from .test_models_services import MODEL_YAML, save_iris_mlflow_model

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/team-ws/models"


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory):
    return save_iris_mlflow_model(tmp_path_factory.mktemp("mlflow-api") / "iris")


def folder_parts(folder):
    """(files, relative_paths) as the CLI and the browser send a folder: `<folder name>/<relative path>`."""
    files, names = [], []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            files.append(io.BytesIO(p.read_bytes()))
            files[-1].name = p.name
            names.append(f"{folder.name}/{p.relative_to(folder).as_posix()}")
    return files, names


def register_iris(client, iris_model, **fields):
    files, names = folder_parts(iris_model)
    body = {"name": "iris", "type": "mlflow_model", "files": files, "relative_paths": names, **fields}
    return client.post(BASE, body, format="multipart")


def test_register_mlflow_folder_then_show_it(owner, workspace, api_client, iris_model):
    client = api_client(owner)
    response = register_iris(client, iris_model, tags=json.dumps({"team": "flowers"}), description="**Iris**")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["id"], body["type"], body["tags"], body["datastore"]) == (
        "azureml:iris:1",
        "mlflow_model",
        {"team": "flowers"},
        "workspaceblobstore",
    )
    assert body["uri"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    shown = client.get(f"{BASE}/iris/versions/1").json()
    assert shown["signature"]["inputs"][0] == {"type": "double", "name": "sepal length (cm)", "required": True}
    assert shown["input_example"]["columns"][0] == "sepal length (cm)"
    assert shown["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"


def test_register_from_a_datastore_uri_as_json(owner, workspace, api_client):
    datastore_storage(workspace.datastores.get(name="workspaceblobstore")).save("m/model.pkl", io.BytesIO(b"pk"))
    response = api_client(owner).post(
        BASE,
        {"name": "churn", "path": "azureml://datastores/workspaceblobstore/paths/m/model.pkl", "tags": {"a": "b"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["path"], response.json()["type"]) == ("m/model.pkl", "custom_model")


def test_register_from_yaml_with_files(owner, workspace, api_client, iris_model):
    files, names = folder_parts(iris_model)
    yaml_file = io.BytesIO(MODEL_YAML.encode())
    yaml_file.name = "model.yml"
    response = api_client(owner).post(
        BASE, {"yaml": yaml_file, "files": files, "relative_paths": names}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert response.json()["id"] == "azureml:iris-yaml:3"


def test_yaml_error_is_400_naming_field_and_line(owner, workspace, api_client):
    response = api_client(owner).post(
        BASE, {"yaml": MODEL_YAML.replace("type: mlflow_model", "type: pickle_model")}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"][0]["field"] == "type"
    assert "(line 4)" in error["message"]
    assert not Model.objects.exists()


def test_mlflow_model_without_mlmodel_is_400_naming_path(owner, workspace, api_client):
    body = {"name": "x", "type": "mlflow_model", "files": [io.BytesIO(b"x")], "relative_paths": ["x/model.pkl"]}
    response = api_client(owner).post(BASE, body, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "path"


def test_duplicate_version_is_409(owner, workspace, api_client, iris_model):
    client = api_client(owner)
    assert register_iris(client, iris_model, version="5").status_code == 201
    response = register_iris(client, iris_model, version="5")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert "iris:5 already exists" in response.json()["error"]["message"]


def test_nothing_to_register_is_400_naming_path(owner, workspace, api_client):
    response = api_client(owner).post(BASE, {"name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "path"


def test_list_shows_newest_version_per_name_and_versions_lists_all(owner, workspace, api_client):
    client = api_client(owner)
    for name in ("a", "a", "b"):
        files = io.BytesIO(b"m")
        assert (
            client.post(
                BASE, {"name": name, "files": [files], "relative_paths": ["m.pkl"]}, format="multipart"
            ).status_code
            == 201
        )
    listed = client.get(BASE).json()
    assert [(m["name"], m["version"], m["version_count"]) for m in listed] == [("a", "2", 2), ("b", "1", 1)]
    assert [m["version"] for m in client.get(f"{BASE}/a/versions").json()] == ["2", "1"]
    assert [m["version"] for m in client.get(BASE, {"name": "a"}).json()] == ["2", "1"]


def test_archive_hides_from_list_restore_brings_back(owner, workspace, api_client):
    client = api_client(owner)
    client.post(BASE, {"name": "a", "files": [io.BytesIO(b"m")], "relative_paths": ["m.pkl"]}, format="multipart")
    assert client.post(f"{BASE}/a/versions/1/archive").json()["is_archived"] is True
    assert client.get(BASE).json() == []
    assert [m["name"] for m in client.get(BASE, {"include_archived": "true"}).json()] == ["a"]
    assert client.post(f"{BASE}/a/versions/1/restore").json()["is_archived"] is False
    assert [m["name"] for m in client.get(BASE).json()] == ["a"]


def test_patch_changes_description_and_tags(owner, workspace, api_client):
    client = api_client(owner)
    client.post(BASE, {"name": "a", "files": [io.BytesIO(b"m")], "relative_paths": ["m.pkl"]}, format="multipart")
    response = client.patch(f"{BASE}/a/versions/1", {"description": "New", "tags": {"k": "v"}}, format="json")
    assert (response.json()["description"], response.json()["tags"]) == ("New", {"k": "v"})


def test_files_list_and_download_a_file_and_the_whole_model_as_zip(owner, workspace, api_client, iris_model):
    client = api_client(owner)
    register_iris(client, iris_model)
    names = {e["path"] for e in client.get(f"{BASE}/iris/versions/1/files").json()}
    assert {"MLmodel", "input_example.json", "conda.yaml"} <= names
    mlmodel = client.get(f"{BASE}/iris/versions/1/files/content", {"path": "MLmodel"})
    assert mlmodel["Content-Disposition"] == 'attachment; filename="MLmodel"'
    assert mlmodel["X-Content-Type-Options"] == "nosniff"
    assert b"".join(mlmodel.streaming_content) == (iris_model / "MLmodel").read_bytes()
    whole = client.get(f"{BASE}/iris/versions/1/files/content")
    assert whole["Content-Type"] == "application/zip"
    assert whole["Content-Disposition"] == 'attachment; filename="iris-1.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(whole.streaming_content)))
    assert set(archive.namelist()) == {p.name for p in iris_model.iterdir()}


@pytest.mark.parametrize("bad", ["../../etc/passwd", "%2e%2e/x", "/etc/passwd", "a\\b"])
def test_file_paths_that_escape_the_model_are_refused(owner, workspace, api_client, bad):
    client = api_client(owner)
    client.post(BASE, {"name": "a", "files": [io.BytesIO(b"m")], "relative_paths": ["a/m.pkl"]}, format="multipart")
    assert client.get(f"{BASE}/a/versions/1/files/content", {"path": bad}).status_code == 400


def test_uploaded_html_downloads_as_an_inert_attachment(owner, workspace, api_client):
    client = api_client(owner)
    page = io.BytesIO(b"<script>alert(1)</script>")
    client.post(BASE, {"name": "a", "files": [page], "relative_paths": ["a/evil.html"]}, format="multipart")
    response = client.get(f"{BASE}/a/versions/1/files/content", {"path": "evil.html"})
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_reader_can_read_but_not_register_archive_or_edit(owner, reader, workspace, api_client):
    api_client(owner).post(
        BASE, {"name": "a", "files": [io.BytesIO(b"m")], "relative_paths": ["m.pkl"]}, format="multipart"
    )
    client = api_client(reader)
    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}/a/versions/1/files/content").status_code == 200
    created = client.post(
        BASE, {"name": "b", "files": [io.BytesIO(b"m")], "relative_paths": ["m.pkl"]}, format="multipart"
    )
    assert created.status_code == 403
    assert client.post(f"{BASE}/a/versions/1/archive").status_code == 403
    assert client.patch(f"{BASE}/a/versions/1", {"description": "x"}, format="json").status_code == 403
    assert list(Model.objects.values_list("name", "is_archived", "description")) == [("a", False, "")]


def test_outsider_gets_404_for_everything(owner, outsider, workspace, api_client):
    api_client(owner).post(
        BASE, {"name": "a", "files": [io.BytesIO(b"m")], "relative_paths": ["m.pkl"]}, format="multipart"
    )
    client = api_client(outsider)
    assert client.get(BASE).status_code == 404
    assert client.get(f"{BASE}/a/versions/1").status_code == 404
    assert client.get(f"{BASE}/a/versions/1/files/content").status_code == 404


def test_upload_over_the_size_limit_is_413_and_creates_nothing(owner, workspace, api_client, settings):
    from tests.workspaces.multipart import CONTENT_TYPE, field_part, file_part
    from tests.workspaces.multipart import end as multipart_end

    settings.STUDIO_MAX_UPLOAD_SIZE = 10_000
    body = field_part("name", "big") + file_part("files", "big.bin", b"x" * 20_000) + multipart_end()
    response = api_client(owner).generic("POST", BASE, body, content_type=CONTENT_TYPE)
    assert response.status_code == 413
    assert not Model.objects.exists()


def test_ten_thousand_file_parts_are_refused_and_create_nothing(owner, workspace, api_client):
    from tests.workspaces.multipart import CONTENT_TYPE, field_part, file_part
    from tests.workspaces.multipart import end as multipart_end

    body = field_part("name", "many") + b"".join(file_part("files", f"f{i}", b"x") for i in range(10_000))
    response = api_client(owner).generic("POST", BASE, body + multipart_end(), content_type=CONTENT_TYPE)
    assert response.status_code == 400
    assert not Model.objects.exists()


def test_a_model_of_another_workspace_is_not_reachable_through_this_one(owner, outsider, workspace, api_client):
    api_client(outsider).post(
        "/api/v1/workspaces/oscars-ws/models",
        {"name": "secret", "files": [io.BytesIO(b"s")], "relative_paths": ["s.pkl"]},
        format="multipart",
    )
    client = api_client(owner)
    assert client.get(f"{BASE}/secret/versions/1").status_code == 404
    assert client.get(f"{BASE}/secret/versions/1/files/content").status_code == 404
    assert client.get(BASE).json() == []

"""The component REST API: register (YAML + code folder as multipart), list, show, code files,
archive, restore; errors as 400 naming the field and line, 409 for a duplicate; who may do what."""

import io
import zipfile

import pytest

from assets.models import Component, Environment

from .test_components_services import CODE, COMPONENT_YAML

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/team-ws/components"


@pytest.fixture(autouse=True)
def environment(workspace):
    return Environment.objects.create(workspace=workspace, name="sklearn-env", version="1", image="python:3.11")


def body(text=COMPONENT_YAML, files=CODE):
    yaml_file = io.BytesIO(text.encode())
    yaml_file.name = "component.yml"
    parts = []
    for name, content in files.items():
        part = io.BytesIO(content)
        part.name = name.rsplit("/", 1)[-1]
        parts.append(part)
    return {"yaml": yaml_file, "files": parts, "relative_paths": list(files)}


def test_register_show_and_list(owner, api_client):
    client = api_client(owner)
    response = client.post(BASE, body(), format="multipart")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["id"], created["display_name"], created["type"]) == (
        "azureml:train_model:1",
        "Train a model",
        "command",
    )
    assert created["code"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert created["yaml"] == COMPONENT_YAML
    shown = client.get(f"{BASE}/train_model/versions/1").json()
    assert shown["spec"]["inputs"]["mode"] == {"type": "string", "enum": ["fast", "slow"], "default": "fast"}
    assert [c["id"] for c in client.get(BASE).json()] == ["azureml:train_model:1"]
    assert [c["version"] for c in client.get(f"{BASE}/train_model/versions").json()] == ["1"]


def test_yaml_as_a_text_field_without_code(owner, api_client):
    text = COMPONENT_YAML.replace("code: ./src\n", "")
    response = api_client(owner).post(BASE, {"yaml": text}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["code"] is None


@pytest.mark.parametrize(
    ("change", "field", "line"),
    [
        (("tags:\n", "tags: [\n"), "yaml", 9),
        (("type: command", "type: parallel"), "type", 2),
        (("${{inputs.mode}}", "${{inputs.speed}}"), "command", 33),
        (("azureml:sklearn-env:1", "azureml:gone:7"), "environment", 30),
        (("default: 10", "default: [1]"), "inputs.max_epochs.default", 15),
    ],
    ids=["malformed", "unknown-type", "bad-binding", "unknown-environment", "wrong-type"],
)
def test_errors_are_400_naming_field_and_line_and_nothing_is_created(owner, api_client, change, field, line):
    response = api_client(owner).post(BASE, body(COMPONENT_YAML.replace(*change)), format="multipart")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "UserError"
    detail = next(d for d in error["details"] if d["field"] == field)
    assert f"line {line}" in detail["message"]
    assert not Component.objects.exists()


def test_duplicate_is_409(owner, api_client):
    client = api_client(owner)
    assert client.post(BASE, body(), format="multipart").status_code == 201
    response = client.post(BASE, body(), format="multipart")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"


def test_code_files_listed_viewed_and_zipped(owner, api_client):
    client = api_client(owner)
    client.post(BASE, body(), format="multipart")
    entries = client.get(f"{BASE}/train_model/versions/1/files").json()
    assert [(e["path"], e["is_folder"]) for e in entries] == [("utils", True), ("train.py", False)]
    assert [e["path"] for e in client.get(f"{BASE}/train_model/versions/1/files", {"path": "utils"}).json()] == [
        "utils/io.py"
    ]
    one = client.get(f"{BASE}/train_model/versions/1/files/content", {"path": "train.py"})
    assert b"".join(one.streaming_content) == CODE["train.py"]
    assert one["Content-Type"] == "application/octet-stream"
    whole = client.get(f"{BASE}/train_model/versions/1/files/content")
    assert set(zipfile.ZipFile(io.BytesIO(b"".join(whole.streaming_content))).namelist()) == set(CODE)
    assert client.get(f"{BASE}/train_model/versions/1/files/content", {"path": "../../x"}).status_code == 400


def test_archive_and_restore(owner, api_client):
    client = api_client(owner)
    client.post(BASE, body(), format="multipart")
    assert client.post(f"{BASE}/train_model/versions/1/archive").json()["is_archived"] is True
    assert client.get(BASE).json() == []
    assert client.post(f"{BASE}/train_model/versions/1/restore").json()["is_archived"] is False


def test_reader_reads_but_cannot_register_or_archive(owner, reader, api_client):
    api_client(owner).post(BASE, body(), format="multipart")
    client = api_client(reader)
    assert client.get(f"{BASE}/train_model/versions/1").status_code == 200
    assert client.get(f"{BASE}/train_model/versions/1/files/content", {"path": "train.py"}).status_code == 200
    assert (
        client.post(BASE, body(COMPONENT_YAML.replace("version: 1", "version: 2")), format="multipart").status_code
        == 403
    )
    assert client.post(f"{BASE}/train_model/versions/1/archive").status_code == 403
    assert list(Component.objects.values_list("version", "is_archived")) == [("1", False)]


def test_outsider_gets_404(owner, outsider, api_client):
    api_client(owner).post(BASE, body(), format="multipart")
    client = api_client(outsider)
    assert client.get(f"{BASE}/train_model/versions/1").status_code == 404
    assert client.post(BASE, body(), format="multipart").status_code == 404


def test_yaml_bigger_than_the_limit_is_refused(owner, api_client):
    text = COMPONENT_YAML + "# " + "x" * 300_000 + "\n"
    response = api_client(owner).post(BASE, body(text), format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "yaml"
    assert not Component.objects.exists()


def test_yaml_alias_bomb_is_refused_without_blowing_up(owner, api_client):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    response = api_client(owner).post(BASE, body(COMPONENT_YAML + bomb), format="multipart")
    assert response.status_code == 400
    assert not Component.objects.exists()


def test_a_component_of_another_workspace_is_not_reachable_through_this_one(owner, outsider, api_client):
    from workspaces.models import Workspace

    Environment.objects.create(workspace=Workspace.objects.get(name="oscars-ws"), name="sklearn-env", version="1")
    assert (
        api_client(outsider).post("/api/v1/workspaces/oscars-ws/components", body(), format="multipart").status_code
        == 201
    )
    client = api_client(owner)
    assert client.get(f"{BASE}/train_model/versions/1").status_code == 404
    assert client.get(f"{BASE}/train_model/versions/1/files/content").status_code == 404
    assert client.get(BASE).json() == []

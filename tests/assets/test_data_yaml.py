"""Azure ML data YAML, validated by azure-ai-ml's own loader: errors name the field and the line
(SECURITY.md 24), and nothing is created."""

import io
import textwrap

import pytest
from django.core.exceptions import ValidationError

from assets.data import services
from assets.data.spec import parse_data_yaml
from assets.models import DataAsset
from assets.yaml_errors import compose, line_of, loader_error

from .data_support import API, CSV, _fast_password_hashing, api_upload, put_file  # noqa: F401

pytestmark = pytest.mark.django_db

GOOD = """\
$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: titanic
version: 3
type: uri_file
path: azureml://datastores/workspaceblobstore/paths/raw/titanic.csv
description: Passengers of the **Titanic**.
tags:
  source: kaggle
  rows: 891
"""


def yaml_error(text: str) -> dict:
    with pytest.raises(ValidationError) as exc:
        parse_data_yaml(textwrap.dedent(text))
    return exc.value.message_dict


def test_a_valid_spec_is_read_as_the_cli_reads_it():
    spec = parse_data_yaml(GOOD)
    assert (spec.name, spec.version, spec.type, spec.description) == (
        "titanic",
        "3",
        "uri_file",
        "Passengers of the **Titanic**.",
    )
    assert spec.path == "azureml://datastores/workspaceblobstore/paths/raw/titanic.csv"
    assert spec.tags == {"source": "kaggle", "rows": "891"}
    assert not spec.is_local_path


def test_an_unknown_type_names_the_field_and_its_line():
    errors = yaml_error("name: a\nversion: 1\ntype: uri_flie\npath: ./x.csv\n")
    assert list(errors) == ["type"]
    assert "Must be one of: uri_file, uri_folder, mltable" in errors["type"][0]
    assert errors["type"][0].endswith("(line 3).")


def test_a_missing_path_is_named():
    errors = yaml_error("name: a\ntype: uri_folder\n")
    assert "Missing data for required field" in errors["path"][0]


def test_several_errors_each_name_their_line():
    errors = yaml_error(
        """\
        name: a
        description: [not, text]
        type: uri_file
        path: ./x.csv
        tags: [1, 2]
        colour: blue
        """
    )
    assert errors["description"][0].endswith("(line 2).")
    assert errors["tags"][0].endswith("(line 5).")
    assert "Unknown field" in errors["colour"][0] and errors["colour"][0].endswith("(line 6).")


def test_malformed_yaml_names_the_line():
    errors = yaml_error("name: a\ntype: uri_file\npath: [unclosed\n")
    assert "cannot be parsed" in errors["yaml"][0]
    assert "line 4" in errors["yaml"][0]


@pytest.mark.parametrize("text", ["", "just a string\n", "- a\n- b\n"])
def test_yaml_that_is_not_a_mapping_is_refused(text):
    assert "yaml" in yaml_error(text)


def test_a_spec_without_a_name_is_refused_with_the_line():
    errors = yaml_error("type: uri_file\npath: azureml://datastores/workspaceblobstore/paths/a.csv\n")
    assert errors["name"][0].startswith("Give the data asset a name")


def test_the_line_helper_walks_nested_mappings_and_lists():
    node = compose("inputs:\n  x:\n    type: uri_file\nsteps:\n  - a: 1\n  - b: 2\n")
    assert line_of(node, ["inputs", "x", "type"]) == 3
    assert line_of(node, ["steps", "1", "b"]) == 6
    assert line_of(node, ["inputs", "missing"]) == 1  # the nearest parent that exists


def test_loader_errors_of_other_kinds_of_spec_are_named_too():
    """The helper is shared with components: a command component with a bad input type."""
    from azure.ai.ml import load_component

    text = textwrap.dedent(
        """\
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: train
        type: command
        inputs:
          data:
            type: not_a_type
        command: python train.py
        environment: azureml:sklearn:1
        """
    )
    with pytest.raises(Exception) as raised:
        load_component(source=io.StringIO(text))
    errors = loader_error(raised.value, compose(text)).message_dict
    field, messages = next(iter(errors.items()))
    assert field.startswith("inputs.data")
    assert "(line " in messages[0]


# Creating from YAML --------------------------------------------------------------------------------


def test_create_from_yaml_with_a_datastore_path(workspace, owner):
    put_file(workspace, "raw/titanic.csv", CSV)
    asset = services.data_asset_create_from_yaml(workspace=workspace, user=owner, text=GOOD)
    assert (asset.name, asset.version, asset.path, asset.tags["source"]) == (
        "titanic",
        "3",
        "raw/titanic.csv",
        "kaggle",
    )


def test_create_from_yaml_name_and_version_can_be_overridden(workspace, owner):
    put_file(workspace, "raw/titanic.csv", CSV)
    asset = services.data_asset_create_from_yaml(workspace=workspace, user=owner, text=GOOD, name="ship", version="9")
    assert (asset.name, asset.version) == ("ship", "9")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("azureml://datastores/workspaceblobstore/paths/../../etc/passwd", "'..'", id="dotdot"),
        pytest.param("azureml://datastores/nope/paths/raw/titanic.csv", "No datastore named 'nope'", id="no-datastore"),
        pytest.param("./titanic.csv", "is a local path", id="local-without-files"),
        pytest.param("/etc/passwd", "is a local path", id="absolute-local"),
        pytest.param("https://example.com/titanic.csv", "Use azureml://datastores", id="url"),
    ],
)
def test_a_bad_path_in_yaml_names_path_and_its_line(workspace, owner, path, message):
    text = GOOD.replace("azureml://datastores/workspaceblobstore/paths/raw/titanic.csv", path)
    with pytest.raises(ValidationError) as exc:
        services.data_asset_create_from_yaml(workspace=workspace, user=owner, text=text)
    assert message in exc.value.message_dict["path"][0]
    assert exc.value.message_dict["path"][0].endswith("(line 5).")
    assert not DataAsset.objects.exists()


def test_api_create_from_yaml_with_a_local_path_and_its_uploaded_folder(workspace, owner, api_client):
    client = api_client(owner)
    files = {"data/a.csv": CSV, "data/sub/b.csv": CSV}
    uploads = [{"id": api_upload(client, p, c), "path": p} for p, c in files.items()]
    text = "name: local-folder\ntype: uri_folder\npath: ./data\n"
    response = client.post(API, {"yaml": text, "uploads": uploads}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["relative_path"].startswith("LocalUpload/") and body["relative_path"].endswith("/data")
    assert body["file_count"] == 2


def test_api_bad_yaml_is_a_400_naming_field_and_line(workspace, owner, api_client):
    response = api_client(owner).post(API, {"yaml": "name: a\ntype: table\npath: x\n"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("type: Must be one of")
    assert "(line 2)" in error["message"]
    assert error["details"][0]["field"] == "type"


def test_api_duplicate_version_from_yaml_is_a_409(workspace, owner, api_client):
    put_file(workspace, "raw/titanic.csv", CSV)
    client = api_client(owner)
    assert client.post(API, {"yaml": GOOD}, format="json").status_code == 201
    response = client.post(API, {"yaml": GOOD}, format="json")
    assert response.status_code == 409
    assert "titanic:3 already exists" in response.json()["error"]["message"]

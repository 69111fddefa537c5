"""Registering command components from YAML + code folder, validated with azure-ai-ml's loader:
every error names the field and its YAML line and creates nothing."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.components import services
from assets.components.command import command_tokens
from assets.models import Component, Environment
from assets.versioning import DuplicateVersion, asset_set_archived
from workspaces.storage import datastore_storage

pytestmark = pytest.mark.django_db

COMPONENT_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train_model
version: 1
display_name: Train a model
description: Trains a **classifier**.
tags:
  team: ml
inputs:
  training_data:
    type: uri_folder
    description: Folder of CSV files
  max_epochs:
    type: integer
    default: 10
    min: 1
    max: 100
  learning_rate:
    type: number
    default: 0.01
    optional: true
  mode:
    type: string
    enum: [fast, slow]
    default: fast
outputs:
  model_output:
    type: mlflow_model
code: ./src
environment: azureml:sklearn-env:1
command: >-
  python train.py --data ${{inputs.training_data}} --epochs ${{inputs.max_epochs}}
  $[[--lr ${{inputs.learning_rate}}]] --mode ${{inputs.mode}} --out ${{outputs.model_output}}
"""
CODE = {"train.py": b"print('training')\n", "utils/io.py": b"def read(): ...\n"}


@pytest.fixture
def environment(workspace):
    return Environment.objects.create(workspace=workspace, name="sklearn-env", version="1", image="python:3.11")


def code_files(files=CODE):
    return [(name, SimpleUploadedFile(name.rsplit("/", 1)[-1], content)) for name, content in files.items()]


def blob_files(workspace) -> set[str]:
    from pathlib import Path

    root = Path(datastore_storage(workspace.datastores.get(name="workspaceblobstore")).location)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def create(workspace, owner, text=COMPONENT_YAML, files=None, **kw):
    return services.component_create(
        workspace=workspace, user=owner, yaml_text=text, code_files=code_files() if files is None else files, **kw
    )


def test_valid_component_round_trip(workspace, owner, environment):
    component = create(workspace, owner)
    assert (component.name, component.version, component.type, component.display_name) == (
        "train_model",
        "1",
        "command",
        "Train a model",
    )
    assert component.tags == {"team": "ml"}
    assert component.yaml == COMPONENT_YAML
    assert component.spec["inputs"]["max_epochs"] == {"type": "integer", "default": 10, "min": 1, "max": 100}
    assert component.spec["environment"] == "azureml:sklearn-env:1"
    # The code snapshot sits in the default datastore under LocalUpload/<32 hex>/src.
    prefix, hexpart, folder = component.code_path.split("/")
    assert (prefix, len(hexpart), folder, component.datastore.name) == ("LocalUpload", 32, "src", "workspaceblobstore")
    assert component.spec["code"] == f"azureml://datastores/workspaceblobstore/paths/{component.code_path}/"
    storage = datastore_storage(component.datastore)
    assert storage.open(f"{component.code_path}/utils/io.py").read() == CODE["utils/io.py"]


def test_versions_count_up_when_the_yaml_gives_none(workspace, owner, environment):
    text = COMPONENT_YAML.replace("version: 1\n", "")
    assert [create(workspace, owner, text).version for _ in range(2)] == ["1", "2"]
    assert Component.objects.get(version="2").spec["version"] == "2"


def test_duplicate_name_and_version_is_a_conflict_and_stores_nothing(workspace, owner, environment):
    create(workspace, owner)
    before = blob_files(workspace)
    with pytest.raises(DuplicateVersion) as caught:
        create(workspace, owner)
    assert "train_model:1 already exists" in caught.value.message_dict["version"][0]
    assert blob_files(workspace) == before
    assert Component.objects.count() == 1


BAD = [
    pytest.param(("tags:\n", "tags: [\n"), "yaml", 9, "cannot be parsed", id="malformed-yaml"),
    pytest.param(("type: command", "type: sweep"), "type", 2, "Unknown component type", id="unknown-type"),
    pytest.param(
        ("${{inputs.max_epochs}}", "${{inputs.epochs}}"),
        "command",
        32,
        "${{inputs.epochs}} names no declared input",
        id="bad-input-binding",
    ),
    pytest.param(
        ("${{outputs.model_output}}", "${{outputs.model}}"),
        "command",
        33,
        "${{outputs.model}} names no declared output",
        id="bad-output-binding",
    ),
    pytest.param(
        ("azureml:sklearn-env:1", "azureml:no-such-env:1"),
        "environment",
        30,
        "No environments asset no-such-env:1",
        id="unknown-environment",
    ),
    pytest.param(
        ("azureml:sklearn-env:1", "azureml:sklearn-env@latest"), None, None, None, id="latest-environment-is-fine"
    ),
    pytest.param(("default: 10", "default: ten"), "inputs.max_epochs.default", 15, "ten", id="wrong-type-default"),
    pytest.param(
        ("optional: true", "optional: maybe"),
        "inputs.learning_rate.optional",
        21,
        "Not a valid boolean",
        id="wrong-type-optional",
    ),
    pytest.param(("min: 1", "min: one"), "inputs.max_epochs.min", 16, "one", id="wrong-type-min"),
    pytest.param(
        ("type: uri_folder", "type: uri_foldr"),
        "inputs.training_data.type",
        11,
        "'uri_foldr' is not one of",
        id="unknown-input-type",
    ),
    pytest.param(
        ("type: mlflow_model", "type: onnx"),
        "outputs.model_output.type",
        28,
        "'onnx' is not one of",
        id="unknown-output-type",
    ),
    pytest.param(("name: train_model", "name: Train Model!"), "name", 3, "lower letter", id="bad-name"),
    pytest.param(("command: >-", "commands: >-"), "command", 1, "Missing data", id="no-command"),
    pytest.param(("inputs:\n", "inputs: [a]\nx:\n"), "inputs", 9, "mapping", id="inputs-not-a-mapping"),
]


@pytest.mark.parametrize(("change", "field", "line", "needle"), BAD)
def test_bad_component_is_refused_naming_field_and_line_and_creates_nothing(
    workspace, owner, environment, change, field, line, needle
):
    text = COMPONENT_YAML.replace(*change)
    assert text != COMPONENT_YAML
    if field is None:
        assert create(workspace, owner, text).spec["environment"] == "azureml:sklearn-env@latest"
        return
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, text)
    errors = caught.value.message_dict
    assert field in errors, errors
    assert needle in errors[field][0], errors
    assert re.search(rf"\bline {line}\b", errors[field][0]), errors
    assert not Component.objects.exists()
    assert blob_files(workspace) == set()


def test_curated_environment_by_registry_uri_resolves(workspace, owner):
    Environment.objects.create(workspace=None, is_curated=True, name="sklearn-1.5", version="3", image="python:3.11")
    text = COMPONENT_YAML.replace(
        "azureml:sklearn-env:1", "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
    )
    assert create(workspace, owner, text).version == "1"
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, text.replace("sklearn-1.5", "nope").replace("version: 1", "version: 2"))
    assert "environment" in caught.value.message_dict


def test_another_workspaces_environment_does_not_resolve(workspace, owner, outsider):
    from workspaces.models import Workspace

    Environment.objects.create(workspace=Workspace.objects.get(name="oscars-ws"), name="sklearn-env", version="1")
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner)
    assert "(line 30)" in caught.value.message_dict["environment"][0]


def test_inline_environment_with_an_uploaded_conda_file(workspace, owner):
    text = COMPONENT_YAML.replace(
        "environment: azureml:sklearn-env:1", "environment:\n  image: python:3.11-slim\n  conda_file: ./conda.yml"
    )
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, text)
    assert "Upload the conda file './conda.yml'" in caught.value.message_dict["environment.conda_file"][0]
    conda = "name: train\ndependencies:\n  - python=3.11\n  - pip\n  - pip: [scikit-learn]\n"
    component = create(workspace, owner, text, conda_file=conda)
    assert component.spec["environment"]["conda_file"]["dependencies"][0] == "python=3.11"
    assert component.spec["environment"]["image"] == "python:3.11-slim"


def test_code_folder_is_required_when_named_and_refused_when_not(workspace, owner, environment):
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, files=[])
    assert "(line 29)" in caught.value.message_dict["code"][0]
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, COMPONENT_YAML.replace("code: ./src\n", ""))
    assert "code" in caught.value.message_dict
    component = create(workspace, owner, COMPONENT_YAML.replace("code: ./src\n", ""), files=[])
    assert (component.code_path, component.datastore) == ("", None)


@pytest.mark.parametrize("bad", ["../evil.py", "/etc/passwd", "a\\b.py", "%2e%2e/x.py", "ok/../../x.py"])
def test_code_file_names_that_escape_are_refused(workspace, owner, environment, bad):
    with pytest.raises(ValidationError) as caught:
        create(workspace, owner, files=code_files({bad: b"x"}))
    assert "relative_paths" in caught.value.message_dict
    assert blob_files(workspace) == set()


def test_command_tokens_mark_bindings_and_optional_parts():
    tokens = command_tokens("python t.py --x ${{inputs.x}} $[[--lr ${{inputs.lr}}]] <b>&")
    assert "".join(t["text"] for t in tokens) == "python t.py --x ${{inputs.x}} $[[--lr ${{inputs.lr}}]] <b>&"
    assert [t["css"] for t in tokens] == [
        "",
        "binding binding-inputs",
        "",
        "opt-mark",
        "opt",
        "binding binding-inputs opt",
        "opt-mark",
        "",
    ]


def test_archive_and_restore(workspace, owner, environment):
    from assets.references import resolve

    component = create(workspace, owner)
    asset_set_archived(asset=component, archived=True)
    with pytest.raises(ValidationError):
        resolve(workspace=workspace, kind="components", ref="train_model@latest")
    asset_set_archived(asset=component, archived=False)
    assert resolve(workspace=workspace, kind="components", ref="train_model@latest") == component

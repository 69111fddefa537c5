"""`studio model ...` (the real console script) against the real studio: create from a YAML with a
local folder (as `az ml model create -f`), from --path, list, show, download, archive, restore."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .test_models_services import save_iris_mlflow_model

pytestmark = pytest.mark.e2e
STUDIO_BIN = Path(sys.executable).parent / "studio"


@pytest.fixture(scope="module")
def token(studio):
    return studio.token()


@pytest.fixture
def cli(studio, token, tmp_path):
    def run(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(STUDIO_URL=studio.url, STUDIO_TOKEN=token, STUDIO_WORKSPACE="my-workspace")
        return subprocess.run(
            [str(STUDIO_BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    return run


@pytest.fixture(scope="module")
def iris_folder(tmp_path_factory):
    return save_iris_mlflow_model(tmp_path_factory.mktemp("cli-mlflow") / "iris")


def ok(result) -> dict | list:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_create_from_yaml_uploads_the_local_folder_and_reads_the_signature(cli, tmp_path, iris_folder):
    name = f"iris-{uuid.uuid4().hex[:6]}"
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    os.symlink(iris_folder, project / "models" / "iris")
    (project / "model.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        f"name: {name}\nversion: 4\ntype: mlflow_model\npath: ./models/iris\n"
        "description: Iris from the CLI\ntags: {team: flowers}\n"
    )
    created = ok(cli("model", "create", "--file", str(project / "model.yml")))
    assert (created["id"], created["type"], created["tags"]) == (
        f"azureml:{name}:4",
        "mlflow_model",
        {"team": "flowers"},
    )
    assert created["path"].endswith("/iris")
    assert created["signature"]["inputs"][0]["name"] == "sepal length (cm)"
    again = ok(cli("model", "create", "--file", str(project / "model.yml"), "--version", "5"))
    assert again["version"] == "5"

    table = cli("model", "list", "--name", name, "-o", "table")
    assert table.returncode == 0 and "mlflow_model" in table.stdout
    assert [m["version"] for m in ok(cli("model", "list", "--name", name))] == ["5", "4"]
    assert ok(cli("model", "show", "-n", name, "--label", "latest"))["version"] == "5"

    downloaded = ok(cli("model", "download", "-n", name, "-v", "4", "--download-path", "out"))
    target = tmp_path / "out" / name
    assert downloaded["destination"] == str(Path("out") / name)
    assert (target / "MLmodel").read_bytes() == (iris_folder / "MLmodel").read_bytes()
    assert {p.name for p in target.iterdir()} == {p.name for p in iris_folder.iterdir()}

    assert ok(cli("model", "archive", "-n", name, "-v", "5"))["is_archived"] is True
    assert ok(cli("model", "show", "-n", name, "--label", "latest"))["version"] == "4"
    assert ok(cli("model", "restore", "-n", name, "-v", "5"))["is_archived"] is False
    # Without --version: the whole model, every version.
    assert [m["is_archived"] for m in ok(cli("model", "archive", "-n", name))] == [True, True]
    assert ok(cli("model", "list", "--name", name)) == []
    assert [m["is_archived"] for m in ok(cli("model", "restore", "-n", name))] == [False, False]


def test_create_with_name_and_path_of_a_single_file(cli, tmp_path):
    name = f"churn-{uuid.uuid4().hex[:6]}"
    (tmp_path / "churn.pkl").write_bytes(b"\x80\x04pickle")
    created = ok(cli("model", "create", "-n", name, "--path", "churn.pkl", "--tags", "stage=dev"))
    assert (created["type"], created["tags"]) == ("custom_model", {"stage": "dev"})
    assert created["path"].startswith("LocalUpload/") and created["path"].endswith("/churn.pkl")
    ok(cli("model", "download", "-n", name, "-v", "1", "--download-path", "got"))
    assert (tmp_path / "got" / name / "churn.pkl").read_bytes() == b"\x80\x04pickle"


def test_yaml_error_exits_1_naming_field_and_line(cli, tmp_path):
    (tmp_path / "bad.yml").write_text(
        "name: x\nversion: 1\ntype: pickle\npath: azureml://datastores/workspaceblobstore/paths/x\n"
    )
    result = cli("model", "create", "--file", "bad.yml")
    assert result.returncode == 1
    assert "type:" in result.stderr and "(line 3)" in result.stderr


def test_missing_local_path_is_reported_before_anything_is_sent(cli, tmp_path):
    (tmp_path / "m.yml").write_text("name: x\npath: ./nowhere\n")
    result = cli("model", "create", "--file", "m.yml")
    assert result.returncode == 1
    assert "'./nowhere'" in result.stderr

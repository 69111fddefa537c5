"""MLflow's model registry over the Models section: registered models and versions over the REST
protocol, the checks on a version's `source`, and the real mlflow client against a running studio."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from assets.mlmodels import services as model_services
from assets.models import Model, ModelAlias, ModelType, RegisteredModel
from jobs.models import Experiment, Job
from tracking.models import LoggedModel
from workspaces.models import Workspace
from workspaces.selectors import datastore_by_name, default_datastore
from workspaces.storage import datastore_storage

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"

MLMODEL = textwrap.dedent(
    """\
    artifact_path: model
    flavors:
      python_function:
        loader_module: mlflow.sklearn
        model_path: model.pkl
        python_version: 3.11.7
      sklearn:
        pickled_model: model.pkl
        sklearn_version: 1.5.1
    signature:
      inputs: '[{"type": "double", "name": "x", "required": true}]'
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
      params: null
    """
)


def _write(workspace, datastore_name, path, content: bytes):
    datastore = datastore_by_name(workspace=workspace, name=datastore_name)
    datastore_storage(datastore).save(path, ContentFile(content))


@pytest.fixture
def run(workspace):
    """A run whose artifacts hold an MLflow model folder `model/`."""
    experiment = Experiment.objects.create(workspace=workspace, name="exp")
    job = Job.objects.create(workspace=workspace, experiment=experiment, name="run-1")
    _write(workspace, "workspaceartifactstore", f"{job.artifact_prefix}/model/MLmodel", MLMODEL.encode())
    _write(workspace, "workspaceartifactstore", f"{job.artifact_prefix}/model/model.pkl", b"pickle")
    return job


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


def _call(client, method, path, body=None):
    if method == "GET":
        return client.get(BASE + path, body or {})
    return getattr(client, method.lower())(BASE + path, json.dumps(body or {}), content_type="application/json")


def _ok(client, method, path, body=None) -> dict:
    response = _call(client, method, path, body)
    assert response.status_code == 200, response.content
    return response.json()


def _error(client, method, path, body, status, code):
    response = _call(client, method, path, body)
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code
    return response.json()["message"]


# --- registered models ---------------------------------------------------------------------


@pytest.mark.django_db
def test_create_get_and_duplicate_registered_model(owner_api, workspace):
    created = _ok(
        owner_api,
        "POST",
        "registered-models/create",
        {"name": "iris", "description": "Flowers", "tags": [{"key": "team", "value": "risk"}]},
    )["registered_model"]
    assert created["name"] == "iris"
    assert created["description"] == "Flowers"
    assert created["tags"] == [{"key": "team", "value": "risk"}]
    assert isinstance(created["creation_timestamp"], int)

    got = _ok(owner_api, "GET", "registered-models/get", {"name": "iris"})["registered_model"]
    assert got["name"] == "iris" and got.get("latest_versions", []) == []
    _error(owner_api, "POST", "registered-models/create", {"name": "iris"}, 400, "RESOURCE_ALREADY_EXISTS")
    _error(owner_api, "GET", "registered-models/get", {"name": "nope"}, 404, "RESOURCE_DOES_NOT_EXIST")
    _error(owner_api, "POST", "registered-models/create", {"name": "a/b"}, 400, "INVALID_PARAMETER_VALUE")
    _error(owner_api, "POST", "registered-models/create", {}, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.django_db
def test_a_name_registered_in_the_studio_is_a_registered_model(owner_api, owner, workspace):
    datastore = default_datastore(workspace=workspace)
    datastore_storage(datastore).save("m/model.pkl", ContentFile(b"x"))
    model = model_services.model_create_from_datastore(
        workspace=workspace,
        user=owner,
        fields=model_services.ModelFields(name="studio-model"),
        path="azureml://datastores/workspaceblobstore/paths/m/model.pkl",
    )
    assert RegisteredModel.objects.filter(workspace=workspace, name="studio-model").exists()
    _error(owner_api, "POST", "registered-models/create", {"name": "studio-model"}, 400, "RESOURCE_ALREADY_EXISTS")

    got = _ok(owner_api, "GET", "model-versions/get", {"name": "studio-model", "version": "1"})["model_version"]
    assert got["version"] == "1"
    assert got["current_stage"] == "None"
    assert got["user_id"] == "olivia"
    assert got["source"] == "mlflow-artifacts:/workspaceblobstore/m/model.pkl"
    uri = _ok(owner_api, "GET", "model-versions/get-download-uri", {"name": "studio-model", "version": "1"})
    assert uri == {"artifact_uri": "mlflow-artifacts:/workspaceblobstore/m/model.pkl"}
    assert model.version == "1"


@pytest.mark.django_db
def test_rename_update_tags_and_delete_registered_model(owner_api, workspace, run):
    _ok(owner_api, "POST", "registered-models/create", {"name": "old"})
    _ok(owner_api, "POST", "model-versions/create", {"name": "old", "source": "runs:/run-1/model", "run_id": "run-1"})
    _ok(owner_api, "POST", "registered-models/create", {"name": "taken"})
    _error(
        owner_api,
        "POST",
        "registered-models/rename",
        {"name": "old", "new_name": "taken"},
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    renamed = _ok(owner_api, "POST", "registered-models/rename", {"name": "old", "new_name": "new"})
    assert renamed["registered_model"]["name"] == "new"
    assert list(Model.objects.filter(workspace=workspace).values_list("name", flat=True)) == ["new"]

    updated = _ok(owner_api, "PATCH", "registered-models/update", {"name": "new", "description": "Better"})
    assert updated["registered_model"]["description"] == "Better"
    _ok(owner_api, "POST", "registered-models/set-tag", {"name": "new", "key": "k", "value": "v"})
    assert RegisteredModel.objects.get(name="new").tags == {"k": "v"}
    _ok(owner_api, "DELETE", "registered-models/delete-tag", {"name": "new", "key": "k"})
    assert RegisteredModel.objects.get(name="new").tags == {}

    _ok(owner_api, "DELETE", "registered-models/delete", {"name": "new"})
    assert not RegisteredModel.objects.filter(name="new").exists()
    assert not Model.objects.filter(name="new").exists()
    _error(owner_api, "DELETE", "registered-models/delete", {"name": "new"}, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.django_db
def test_search_registered_models(owner_api, workspace, run):
    for name in ("alpha", "beta", "gamma"):
        _ok(owner_api, "POST", "registered-models/create", {"name": name, "tags": [{"key": "n", "value": name}]})
    _ok(owner_api, "POST", "model-versions/create", {"name": "beta", "source": "runs:/run-1/model", "run_id": "run-1"})

    def names(params):
        return [
            m["name"] for m in _ok(owner_api, "GET", "registered-models/search", params).get("registered_models", [])
        ]

    assert names({}) == ["alpha", "beta", "gamma"]
    assert names({"filter": "name LIKE '%a%'"}) == ["alpha", "beta", "gamma"]
    assert names({"filter": "name = 'beta'"}) == ["beta"]
    assert names({"filter": "tags.n = 'gamma'"}) == ["gamma"]
    assert names({"order_by": ["name DESC"]}) == ["gamma", "beta", "alpha"]
    first = _ok(owner_api, "GET", "registered-models/search", {"max_results": 2})
    assert [m["name"] for m in first["registered_models"]] == ["alpha", "beta"]
    rest = _ok(owner_api, "GET", "registered-models/search", {"max_results": 2, "page_token": first["next_page_token"]})
    assert [m["name"] for m in rest["registered_models"]] == ["gamma"]
    beta = _ok(owner_api, "GET", "registered-models/search", {"filter": "name = 'beta'"})["registered_models"][0]
    assert [v["version"] for v in beta["latest_versions"]] == ["1"]
    _error(owner_api, "GET", "registered-models/search", {"max_results": 100000}, 400, "INVALID_PARAMETER_VALUE")
    _error(owner_api, "GET", "registered-models/search", {"filter": "nonsense ~~ 1"}, 400, "INVALID_PARAMETER_VALUE")


# --- model versions ------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_a_runs_model_reads_its_mlmodel(owner_api, owner, workspace, run):
    _ok(owner_api, "POST", "registered-models/create", {"name": "iris"})
    created = _ok(
        owner_api,
        "POST",
        "model-versions/create",
        {
            "name": "iris",
            "source": "mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.run-1/model",
            "run_id": "run-1",
            "tags": [{"key": "stage", "value": "dev"}],
            "description": "First",
        },
    )["model_version"]
    assert created["version"] == "1"
    assert created["run_id"] == "run-1"
    assert created["status"] == "READY"
    assert created["tags"] == [{"key": "stage", "value": "dev"}]

    model = Model.objects.get(workspace=workspace, name="iris", version="1")
    assert model.type == ModelType.MLFLOW
    assert set(model.flavors) == {"python_function", "sklearn"}
    assert model.signature["inputs"][0]["name"] == "x"
    assert (model.datastore.name, model.path) == ("workspaceartifactstore", "ExperimentRun/dcid.run-1/model")
    assert model.job_name == "run-1"
    assert model.created_by == owner

    second = _ok(owner_api, "POST", "model-versions/create", {"name": "iris", "source": "runs:/run-1/model"})
    assert second["model_version"]["version"] == "2"
    assert second["model_version"]["run_id"] == "run-1"
    uri = _ok(owner_api, "GET", "model-versions/get-download-uri", {"name": "iris", "version": "2"})
    assert uri["artifact_uri"] == "mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.run-1/model"
    _error(owner_api, "GET", "model-versions/get", {"name": "iris", "version": "9"}, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.django_db
def test_a_version_needs_its_registered_model(owner_api, run):
    _error(
        owner_api,
        "POST",
        "model-versions/create",
        {"name": "ghost", "source": "runs:/run-1/model"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


@pytest.mark.django_db
def test_register_a_logged_model(owner_api, workspace, run):
    LoggedModel.objects.create(
        model_id="m-abc",
        workspace=workspace,
        experiment=run.experiment,
        name="model",
        artifact_location="mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.run-1/model",
        source_run=run,
        creation_timestamp=1,
        last_updated_timestamp=1,
    )
    _ok(owner_api, "POST", "registered-models/create", {"name": "lm"})
    created = _ok(
        owner_api, "POST", "model-versions/create", {"name": "lm", "source": "models:/m-abc", "model_id": "m-abc"}
    )["model_version"]
    assert created["source"] == "models:/m-abc"
    assert created["model_id"] == "m-abc"
    model = Model.objects.get(name="lm")
    assert (model.path, model.model_id, model.type) == ("ExperimentRun/dcid.run-1/model", "m-abc", ModelType.MLFLOW)
    assert model.job_name == created["run_id"] == "run-1"
    _error(
        owner_api,
        "POST",
        "model-versions/create",
        {"name": "lm", "source": "models:/m-nope"},
        400,
        "INVALID_PARAMETER_VALUE",
    )


@pytest.mark.django_db
def test_register_from_a_datastore_uri_and_from_another_version(owner_api, workspace):
    _write(workspace, "workspaceblobstore", "folder/MLmodel", MLMODEL.encode())
    _ok(owner_api, "POST", "registered-models/create", {"name": "ds"})
    _ok(
        owner_api,
        "POST",
        "model-versions/create",
        {"name": "ds", "source": "azureml://datastores/workspaceblobstore/paths/folder"},
    )
    _ok(owner_api, "POST", "registered-models/create", {"name": "copy"})
    copied = _ok(owner_api, "POST", "model-versions/create", {"name": "copy", "source": "models:/ds/1"})
    assert copied["model_version"]["version"] == "1"
    assert Model.objects.get(name="copy").path == "folder"


@pytest.fixture
def foreign_run(outsider):
    workspace = Workspace.objects.get(name="oscars-ws")
    experiment = Experiment.objects.create(workspace=workspace, name="theirs")
    job = Job.objects.create(workspace=workspace, experiment=experiment, name="their-run")
    _write(workspace, "workspaceartifactstore", f"{job.artifact_prefix}/model/MLmodel", MLMODEL.encode())
    return job


BAD_SOURCES = [
    "file:///etc/",
    "/etc",
    "//proc/self/root",
    "mlflow-artifacts:/..%2f..",
    "mlflow-artifacts:/workspaceartifactstore/..%2f..%2fetc",
    "mlflow-artifacts:/workspaceartifactstore/%252e%252e/x",
    "mlflow-artifacts://evil.test/workspaceartifactstore/x",
    "mlflow-artifacts:/workspaceartifactstore/a%23b",
    "mlflow-artifacts:/workspaceartifactstore/a\x00b",
    "mlflow-artifacts:/workspaceartifactstore/a\\b",
    "mlflow-artifacts:/no-such-store/x",
    "mlflow-artifacts:/workspaceartifactstore",
    "runs:/their-run/model",
    "runs:/run-1/../../etc",
    "runs://run-1/model",
    "models:/m-theirs",
    "azureml://datastores/workspaceblobstore/paths/../x",
    "azureml://datastores/nope/paths/x",
    "s3://bucket/model",
    "http://127.0.0.1/api/2.0/mlflow-artifacts/artifacts/x",
    "C:/Windows",
    "",
]


@pytest.mark.django_db
@pytest.mark.parametrize("prompt", [False, True], ids=["model", "prompt"])
@pytest.mark.parametrize("source", BAD_SOURCES)
def test_bad_sources_are_refused(owner_api, workspace, run, foreign_run, source, prompt):
    LoggedModel.objects.create(
        model_id="m-theirs",
        workspace=foreign_run.workspace,
        experiment=foreign_run.experiment,
        name="model",
        artifact_location="mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.their-run/model",
        creation_timestamp=1,
        last_updated_timestamp=1,
    )
    RegisteredModel.objects.create(workspace=workspace, name="target")
    tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}] if prompt else []
    response = _call(owner_api, "POST", "model-versions/create", {"name": "target", "source": source, "tags": tags})
    assert response.status_code in (400, 403), response.content
    assert response.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "PERMISSION_DENIED")
    assert not Model.objects.filter(name="target").exists()


@pytest.mark.django_db
def test_a_foreign_run_id_is_refused(owner_api, workspace, run, foreign_run):
    RegisteredModel.objects.create(workspace=workspace, name="target")
    _error(
        owner_api,
        "POST",
        "model-versions/create",
        {"name": "target", "source": "runs:/run-1/model", "run_id": "their-run"},
        400,
        "INVALID_PARAMETER_VALUE",
    )


@pytest.mark.django_db
def test_prompts_are_refused(owner_api, run):
    tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
    _error(owner_api, "POST", "registered-models/create", {"name": "p", "tags": tags}, 400, "INVALID_PARAMETER_VALUE")
    _ok(owner_api, "POST", "registered-models/create", {"name": "p"})
    _error(
        owner_api,
        "POST",
        "model-versions/create",
        {"name": "p", "source": "runs:/run-1/model", "tags": tags},
        400,
        "INVALID_PARAMETER_VALUE",
    )


@pytest.mark.django_db
def test_version_update_tags_stage_and_delete(owner_api, workspace, run):
    _ok(owner_api, "POST", "registered-models/create", {"name": "iris"})
    for _ in range(3):
        _ok(owner_api, "POST", "model-versions/create", {"name": "iris", "source": "runs:/run-1/model"})
    updated = _ok(owner_api, "PATCH", "model-versions/update", {"name": "iris", "version": "1", "description": "d"})
    assert updated["model_version"]["description"] == "d"
    _ok(owner_api, "POST", "model-versions/set-tag", {"name": "iris", "version": "1", "key": "k", "value": "v"})
    assert Model.objects.get(name="iris", version="1").tags == {"k": "v"}
    _ok(owner_api, "DELETE", "model-versions/delete-tag", {"name": "iris", "version": "1", "key": "k"})
    assert Model.objects.get(name="iris", version="1").tags == {}

    staged = _ok(
        owner_api, "POST", "model-versions/transition-stage", {"name": "iris", "version": "2", "stage": "production"}
    )
    assert staged["model_version"]["current_stage"] == "Production"
    _ok(
        owner_api,
        "POST",
        "model-versions/transition-stage",
        {"name": "iris", "version": "3", "stage": "Production", "archive_existing_versions": True},
    )
    assert Model.objects.get(name="iris", version="2").is_archived
    latest = _ok(owner_api, "POST", "registered-models/get-latest-versions", {"name": "iris", "stages": ["Production"]})
    assert [v["version"] for v in latest["model_versions"]] == ["3"]
    every = _ok(owner_api, "POST", "registered-models/get-latest-versions", {"name": "iris"})
    assert {(v["version"], v["current_stage"]) for v in every["model_versions"]} == {
        ("1", "None"),
        ("2", "Archived"),
        ("3", "Production"),
    }
    _error(
        owner_api,
        "POST",
        "model-versions/transition-stage",
        {"name": "iris", "version": "1", "stage": "Nope"},
        400,
        "INVALID_PARAMETER_VALUE",
    )

    _ok(owner_api, "POST", "registered-models/alias", {"name": "iris", "alias": "champion", "version": "3"})
    _ok(owner_api, "DELETE", "model-versions/delete", {"name": "iris", "version": "3"})
    assert not ModelAlias.objects.exists()
    _ok(owner_api, "DELETE", "model-versions/delete", {"name": "iris", "version": "2"})
    _ok(owner_api, "DELETE", "model-versions/delete", {"name": "iris", "version": "1"})
    assert RegisteredModel.objects.filter(name="iris").exists()
    assert _ok(owner_api, "GET", "registered-models/get", {"name": "iris"})["registered_model"]["name"] == "iris"
    _error(
        owner_api, "DELETE", "model-versions/delete", {"name": "iris", "version": "1"}, 404, "RESOURCE_DOES_NOT_EXIST"
    )


@pytest.mark.django_db
def test_aliases(owner_api, workspace, run):
    _ok(owner_api, "POST", "registered-models/create", {"name": "iris"})
    for _ in range(2):
        _ok(owner_api, "POST", "model-versions/create", {"name": "iris", "source": "runs:/run-1/model"})
    _ok(owner_api, "POST", "registered-models/alias", {"name": "iris", "alias": "champion", "version": "1"})
    got = _ok(owner_api, "GET", "registered-models/alias", {"name": "iris", "alias": "champion"})["model_version"]
    assert (got["version"], got["aliases"]) == ("1", ["champion"])
    _ok(owner_api, "POST", "registered-models/alias", {"name": "iris", "alias": "champion", "version": "2"})
    model = _ok(owner_api, "GET", "registered-models/get", {"name": "iris"})["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "2"}]
    latest = _ok(owner_api, "GET", "registered-models/alias", {"name": "iris", "alias": "latest"})["model_version"]
    assert latest["version"] == "2"
    _error(
        owner_api,
        "POST",
        "registered-models/alias",
        {"name": "iris", "alias": "latest", "version": "1"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        owner_api,
        "POST",
        "registered-models/alias",
        {"name": "iris", "alias": "x", "version": "7"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _ok(owner_api, "DELETE", "registered-models/alias", {"name": "iris", "alias": "champion"})
    _error(
        owner_api,
        "GET",
        "registered-models/alias",
        {"name": "iris", "alias": "champion"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


@pytest.mark.django_db
def test_search_model_versions(owner_api, workspace, run):
    for name in ("a", "b"):
        _ok(owner_api, "POST", "registered-models/create", {"name": name})
    for name in ("a", "a", "b"):
        _ok(
            owner_api, "POST", "model-versions/create", {"name": name, "source": "runs:/run-1/model", "run_id": "run-1"}
        )
    _ok(owner_api, "POST", "model-versions/set-tag", {"name": "a", "version": "2", "key": "k", "value": "v"})

    def found(params):
        versions = _ok(owner_api, "GET", "model-versions/search", params).get("model_versions", [])
        return [(v["name"], v["version"]) for v in versions]

    assert found({}) == [("a", "2"), ("a", "1"), ("b", "1")]
    assert found({"filter": "name = 'a'"}) == [("a", "2"), ("a", "1")]
    assert found({"filter": "run_id = 'run-1' AND name = 'b'"}) == [("b", "1")]
    assert found({"filter": "tags.k = 'v'"}) == [("a", "2")]
    assert found({"filter": "source_path = 'runs:/run-1/model'"}) == [("a", "2"), ("a", "1"), ("b", "1")]
    assert found({"filter": "version_number > 1"}) == [("a", "2")]
    assert found({"order_by": ["version_number ASC"]}) == [("a", "1"), ("b", "1"), ("a", "2")]
    page = _ok(owner_api, "GET", "model-versions/search", {"max_results": 1})
    assert len(page["model_versions"]) == 1 and page["next_page_token"]


# --- roles and workspaces ------------------------------------------------------------------


@pytest.mark.django_db
def test_reader_reads_but_cannot_write(api_client, owner_api, reader, run):
    _ok(owner_api, "POST", "registered-models/create", {"name": "iris"})
    _ok(owner_api, "POST", "model-versions/create", {"name": "iris", "source": "runs:/run-1/model"})
    client = api_client(reader)
    assert _ok(client, "GET", "registered-models/get", {"name": "iris"})["registered_model"]["name"] == "iris"
    assert _ok(client, "GET", "model-versions/search", {})["model_versions"]
    _error(client, "POST", "registered-models/create", {"name": "x"}, 403, "PERMISSION_DENIED")
    _error(
        client,
        "POST",
        "model-versions/create",
        {"name": "iris", "source": "runs:/run-1/model"},
        403,
        "PERMISSION_DENIED",
    )
    _error(
        client,
        "POST",
        "registered-models/alias",
        {"name": "iris", "alias": "a", "version": "1"},
        403,
        "PERMISSION_DENIED",
    )
    _error(client, "DELETE", "registered-models/alias", {"name": "iris", "alias": "a"}, 403, "PERMISSION_DENIED")
    _error(client, "DELETE", "model-versions/delete", {"name": "iris", "version": "1"}, 403, "PERMISSION_DENIED")


@pytest.mark.django_db
def test_another_workspaces_models_are_not_found(api_client, owner_api, outsider, run):
    _ok(owner_api, "POST", "registered-models/create", {"name": "iris"})
    client = api_client(outsider)
    _error(client, "GET", "registered-models/get", {"name": "iris"}, 404, "RESOURCE_DOES_NOT_EXIST")
    foreign = "/mlflow/v1.0/workspaces/oscars-ws/api/2.0/mlflow/registered-models/get"
    assert client.get(foreign, {"name": "iris"}).status_code == 404
    search = client.get("/mlflow/v1.0/workspaces/oscars-ws/api/2.0/mlflow/registered-models/search").json()
    assert search.get("registered_models", []) == []


# --- the real mlflow client against a running studio ---------------------------------------

CLIENT_SCRIPT = textwrap.dedent(
    """\
    import json, os, sys, tempfile
    import mlflow, numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    name = sys.argv[1]
    mlflow.set_tracking_uri(os.environ["TRACKING_URI"])
    client = MlflowClient()
    out = {}

    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    out["predict"] = [int(v) for v in model.predict(np.array([[0.0], [3.0]]))]

    client.set_registered_model_alias(name, "champion", "1")
    out["alias_predict"] = [int(v) for v in mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(
        np.array([[3.0]]))]
    out["alias_version"] = client.get_model_version_by_alias(name, "champion").version
    out["search_models"] = [m.name for m in client.search_registered_models(filter_string=f"name = '{name}'")]
    out["search_versions"] = [
        (v.name, v.version) for v in client.search_model_versions(f"name = '{name}'")
    ]
    out["latest"] = [v.version for v in client.get_latest_versions(name)]

    # The other way: registered from mlflow, it shows in the studio.
    with tempfile.TemporaryDirectory() as folder:
        X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        path = os.path.join(folder, "m")
        mlflow.sklearn.save_model(
            LogisticRegression().fit(X, y), path, input_example=X[:2],
            signature=mlflow.models.infer_signature(X, y),
        )
        with mlflow.start_run() as run:
            mlflow.log_artifacts(path, "model")
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name + "-from-mlflow")
        out["registered"] = [version.name, version.version, version.run_id == run.info.run_id]
        out["reloaded"] = [int(v) for v in mlflow.pyfunc.load_model(
            f"models:/{name}-from-mlflow/1").predict(np.array([[3.0]]))]

    # MLflow 3: log_model makes a logged model; registering `models:/<model id>` uses its files.
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
    version = mlflow.register_model(f"models:/{info.model_id}", name + "-logged")
    out["logged"] = [version.version, client.get_model_version(name + "-logged", "1").source]
    out["logged_predict"] = [int(v) for v in mlflow.pyfunc.load_model(
        f"models:/{name}-logged/1").predict(np.array([[3.0]]))]
    out["model_id"] = info.model_id
    print(json.dumps(out))
    """
)


def _mlflow_model_folder(tmp_path: Path) -> Path:
    code = textwrap.dedent(
        """\
        import sys
        import mlflow, numpy as np
        from sklearn.linear_model import LogisticRegression
        X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        mlflow.sklearn.save_model(LogisticRegression().fit(X, y), sys.argv[1],
                                  signature=mlflow.models.infer_signature(X, y))
        """
    )
    folder = tmp_path / "iris"
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, timeout=300)
    return folder


@pytest.mark.e2e
def test_real_mlflow_client_against_the_studio(studio, tmp_path):
    import httpx

    folder = _mlflow_model_folder(tmp_path)
    files = [("files", (f"iris/{p.relative_to(folder)}", p.read_bytes())) for p in folder.rglob("*") if p.is_file()]
    data = {
        "name": "studio-iris",
        "type": "mlflow_model",
        "relative_paths": [f"iris/{p.relative_to(folder)}" for p in folder.rglob("*") if p.is_file()],
    }
    response = httpx.post(
        f"{studio.url}/api/v1/workspaces/my-workspace/models",
        headers={"Authorization": f"Bearer {studio.token()}"},
        data=data,
        files=files,
        timeout=60,
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"] == "1"

    env = {
        **os.environ,
        "TRACKING_URI": f"{studio.url}/mlflow/v1.0/workspaces/my-workspace",
        "MLFLOW_TRACKING_TOKEN": studio.token(),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, "studio-iris"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["predict"] == [0, 1]
    assert out["alias_predict"] == [1]
    assert out["alias_version"] == "1"
    assert out["search_models"] == ["studio-iris"]
    assert out["search_versions"] == [["studio-iris", "1"]]
    assert out["latest"] == ["1"]
    assert out["registered"] == ["studio-iris-from-mlflow", "1", True]
    assert out["reloaded"] == [1]
    assert out["logged"] == ["1", f"models:/{out['model_id']}"]
    assert out["logged_predict"] == [1]

    shown = httpx.get(
        f"{studio.url}/api/v1/workspaces/my-workspace/models/studio-iris-from-mlflow/versions/1",
        headers={"Authorization": f"Bearer {studio.token()}"},
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["type"] == "mlflow_model"
    assert shown.json()["signature"]["inputs"]

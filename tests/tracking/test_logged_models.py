"""MLflow 3's logged models (`/api/2.0/mlflow/logged-models/...`): create, get, finalize, tags, params,
delete and search, as MLflow's server answers them; then `mlflow.sklearn.log_model` and
`mlflow.pyfunc.load_model` with the real client against the real studio."""

import uuid

import pytest

from jobs.models import Experiment, Job, JobStatus
from tracking.models import LoggedModel, Metric

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/logged-models"


@pytest.fixture
def owner_api(api_client, owner, workspace):
    return api_client(owner)


@pytest.fixture
def experiment(workspace):
    return Experiment.objects.create(workspace=workspace, name="exp-models")


@pytest.fixture
def run(workspace, experiment, owner):
    return Job.objects.create(
        workspace=workspace,
        name=uuid.uuid4().hex,
        type="run",
        experiment=experiment,
        status=JobStatus.RUNNING,
        created_by=owner,
    )


def create(client, **body):
    response = client.post(BASE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["model"]


def tags_of(model: dict) -> dict:
    return {t["key"]: t["value"] for t in model["info"].get("tags", [])}


def params_of(model: dict) -> dict:
    return {p["key"]: p["value"] for p in model["data"].get("params", [])}


def error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code


# -- create and get --------------------------------------------------------------------------------


def test_create_from_a_run_puts_files_in_the_runs_outputs(owner_api, experiment, run):
    model = create(
        owner_api,
        experiment_id=str(experiment.pk),
        name="clf",
        model_type="classifier",
        source_run_id=run.name,
        params=[{"key": "C", "value": "1.0"}],
        tags=[{"key": "team", "value": "a"}],
    )
    info = model["info"]
    assert info["model_id"].startswith("m-") and len(info["model_id"]) == 34
    assert info["experiment_id"] == str(experiment.pk)
    assert info["name"] == "clf"
    assert info["model_type"] == "classifier"
    assert info["source_run_id"] == run.name
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["artifact_uri"] == (
        f"mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.{run.name}/outputs/models/{info['model_id']}"
    )
    assert info["creation_timestamp_ms"] == info["last_updated_timestamp_ms"] > 0
    assert tags_of(model) == {"team": "a"}
    assert params_of(model) == {"C": "1.0"}

    fetched = owner_api.get(f"{BASE}/{info['model_id']}").json()["model"]
    assert fetched == model


def test_create_without_a_run_uses_the_experiment_and_a_generated_name(owner_api, experiment):
    info = create(owner_api, experiment_id=str(experiment.pk))["info"]
    assert info["name"]
    assert info["artifact_uri"] == (
        f"mlflow-artifacts:/workspaceartifactstore/mlflow/{experiment.pk}/models/{info['model_id']}/artifacts"
    )
    assert "source_run_id" not in info


def test_experiment_zero_is_the_default_experiment(owner_api, workspace):
    info = create(owner_api, experiment_id="0", name="m")["info"]
    default = Experiment.objects.get(workspace=workspace, name="Default")
    assert info["experiment_id"] == str(default.pk)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": 5}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "999999"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"experiment_id": "0", "name": "a/b"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "0", "name": "x" * 501}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "0", "source_run_id": "nosuchrun"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"experiment_id": "0", "params": [{"key": "", "value": "v"}]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "0", "params": [{"key": "k", "value": "v" * 6001}]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "0", "tags": [{"key": "k" * 251, "value": "v"}]}, 400, "INVALID_PARAMETER_VALUE"),
        ({"experiment_id": "0", "tags": "not-a-list"}, 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_create_refuses_bad_input(owner_api, body, status, code):
    error(owner_api.post(BASE, body, format="json"), status, code)
    assert not LoggedModel.objects.exists()


def test_create_from_another_workspaces_run_is_not_found(api_client, owner_api, outsider):
    from workspaces.models import Workspace

    theirs = Workspace.objects.get(name="oscars-ws")
    foreign = Job.objects.create(
        workspace=theirs,
        name=uuid.uuid4().hex,
        type="run",
        experiment=Experiment.objects.create(workspace=theirs, name="theirs"),
        created_by=outsider,
    )
    error(
        owner_api.post(BASE, {"experiment_id": "0", "source_run_id": foreign.name}, format="json"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_create_refuses_text_plain(owner_api):
    response = owner_api.generic("POST", BASE, '{"experiment_id": "0"}', content_type="text/plain")
    assert response.status_code == 415
    assert not LoggedModel.objects.exists()


def test_get_missing_model_is_not_found(owner_api):
    error(owner_api.get(f"{BASE}/m-0123456789abcdef0123456789abcdef"), 404, "RESOURCE_DOES_NOT_EXIST")


# -- finalize, tags, params, delete ---------------------------------------------------------------


def test_finalize(owner_api):
    model_id = create(owner_api, experiment_id="0")["info"]["model_id"]
    response = owner_api.patch(
        f"{BASE}/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert owner_api.get(f"{BASE}/{model_id}").json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    response = owner_api.patch(f"{BASE}/{model_id}", {"status": "LOGGED_MODEL_UPLOAD_FAILED"}, format="json")
    assert response.json()["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"
    for status in ("LOGGED_MODEL_PENDING", "NOT_A_STATUS", None):
        error(owner_api.patch(f"{BASE}/{model_id}", {"status": status}, format="json"), 400, "INVALID_PARAMETER_VALUE")


def test_tags_and_params(owner_api):
    model_id = create(owner_api, experiment_id="0", tags=[{"key": "a", "value": "1"}])["info"]["model_id"]
    response = owner_api.patch(
        f"{BASE}/{model_id}/tags", {"tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "3"}]}, format="json"
    )
    assert response.status_code == 200
    assert tags_of(owner_api.get(f"{BASE}/{model_id}").json()["model"]) == {"a": "3", "b": "2"}

    assert owner_api.delete(f"{BASE}/{model_id}/tags/a").status_code == 200
    assert tags_of(owner_api.get(f"{BASE}/{model_id}").json()["model"]) == {"b": "2"}
    error(owner_api.delete(f"{BASE}/{model_id}/tags/a"), 404, "RESOURCE_DOES_NOT_EXIST")

    owner_api.patch(f"{BASE}/{model_id}/tags", {"tags": [{"key": "with/slash", "value": "s"}]}, format="json")
    assert owner_api.delete(f"{BASE}/{model_id}/tags/with/slash").status_code == 200

    response = owner_api.post(
        f"{BASE}/{model_id}/params", {"model_id": model_id, "params": [{"key": "p", "value": "v"}]}, format="json"
    )
    assert response.status_code == 200
    assert params_of(owner_api.get(f"{BASE}/{model_id}").json()["model"]) == {"p": "v"}


def test_delete_hides_the_model_unless_asked(owner_api):
    model_id = create(owner_api, experiment_id="0")["info"]["model_id"]
    assert owner_api.delete(f"{BASE}/{model_id}", {"model_id": model_id}, format="json").status_code == 200
    error(owner_api.get(f"{BASE}/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert owner_api.get(f"{BASE}/{model_id}", {"allow_deleted": "true"}).status_code == 200
    error(owner_api.delete(f"{BASE}/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert owner_api.post(f"{BASE}/search", {"experiment_ids": ["0"]}, format="json").json() == {}


def test_metrics_logged_for_a_model_are_its_latest(owner_api, run):
    model_id = create(owner_api, experiment_id=str(run.experiment_id), source_run_id=run.name)["info"]["model_id"]
    for step, value in ((0, 0.5), (2, 0.9), (1, 0.7)):
        Metric.objects.create(job=run, key="acc", value=value, timestamp=1000 + step, step=step, model_id=model_id)
    Metric.objects.create(
        job=run, key="acc", value=0.3, timestamp=5, step=0, model_id=model_id, dataset_name="d", dataset_digest="x1"
    )
    Metric.objects.create(job=run, key="acc", value=0.99, timestamp=5, step=9)  # the run's, not the model's
    metrics = owner_api.get(f"{BASE}/{model_id}").json()["model"]["data"]["metrics"]
    by_dataset = {m.get("dataset_name"): m for m in metrics}
    assert set(by_dataset) == {None, "d"}
    assert by_dataset[None]["value"] == 0.9 and by_dataset[None]["step"] == 2
    assert by_dataset[None]["run_id"] == run.name and by_dataset[None]["model_id"] == model_id
    assert by_dataset["d"]["value"] == 0.3 and by_dataset["d"]["dataset_digest"] == "x1"


# -- search ----------------------------------------------------------------------------------------


def search(client, **body):
    response = client.post(f"{BASE}/search", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_search_filters_orders_and_pages(owner_api, experiment, run):
    ids = {}
    for name, kind, score in (("alpha", "clf", 0.1), ("beta", "clf", 0.5), ("gamma", "reg", 0.3)):
        info = create(
            owner_api,
            experiment_id=str(experiment.pk),
            name=name,
            model_type=kind,
            source_run_id=run.name,
            params=[{"key": "kind", "value": kind}],
            tags=[{"key": "owner", "value": name[0]}],
        )["info"]
        ids[name] = info["model_id"]
        Metric.objects.create(job=run, key="score", value=score, timestamp=1, step=0, model_id=info["model_id"])
    create(owner_api, experiment_id="0", name="elsewhere")
    exp = [str(experiment.pk)]

    def names(**body):
        return [m["info"]["name"] for m in search(owner_api, experiment_ids=exp, **body).get("models", [])]

    assert sorted(names()) == ["alpha", "beta", "gamma"]
    assert names(filter="name = 'beta'") == ["beta"]
    assert sorted(names(filter="params.kind = 'clf'")) == ["alpha", "beta"]
    assert names(filter="tags.owner = 'g'") == ["gamma"]
    assert names(filter="model_type = 'reg'") == ["gamma"]
    assert sorted(names(filter="metrics.score > 0.2")) == ["beta", "gamma"]
    assert names(filter="status = 'PENDING' AND name LIKE 'a%'") == ["alpha"]
    assert names(filter=f"source_run_id = '{run.name}' AND name != 'alpha'", order_by=[{"field_name": "name"}]) == [
        "beta",
        "gamma",
    ]
    assert names(order_by=[{"field_name": "metrics.score", "ascending": False}]) == ["beta", "gamma", "alpha"]
    assert names(order_by=[{"field_name": "name", "ascending": True}]) == ["alpha", "beta", "gamma"]

    first = search(owner_api, experiment_ids=exp, max_results=2, order_by=[{"field_name": "name"}])
    assert [m["info"]["name"] for m in first["models"]] == ["alpha", "beta"]
    second = search(
        owner_api,
        experiment_ids=exp,
        max_results=2,
        order_by=[{"field_name": "name"}],
        page_token=first["next_page_token"],
    )
    assert [m["info"]["name"] for m in second["models"]] == ["gamma"]
    assert "next_page_token" not in second

    both = search(owner_api, experiment_ids=[*exp, "0"])["models"]
    assert len(both) == 4


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"experiment_ids": "1"},
        {"experiment_ids": ["0"], "filter": "nonsense ~~ 3"},
        {"experiment_ids": ["0"], "filter": "bogus.key = 'x'"},
        {"experiment_ids": ["0"], "max_results": 1000001},
        {"experiment_ids": ["0"], "max_results": 0},
        {"experiment_ids": ["0"], "order_by": [{"field_name": "params.x"}]},
        {"experiment_ids": ["0"], "page_token": "not a token"},
        {"experiment_ids": ["0"], "filter": "name = '" + "x" * 20000 + "'"},
        {"experiment_ids": [str(i) for i in range(1000)]},
    ],
)
def test_search_refuses_bad_input(owner_api, body):
    create(owner_api, experiment_id="0", name="present")
    error(owner_api.post(f"{BASE}/search", body, format="json"), 400, "INVALID_PARAMETER_VALUE")


def test_search_sees_only_this_workspace(api_client, owner_api, outsider):
    create(owner_api, experiment_id="0", name="ours")
    theirs = api_client(outsider)
    response = theirs.post(
        "/mlflow/v1.0/workspaces/oscars-ws/api/2.0/mlflow/logged-models",
        {"experiment_id": "0", "name": "theirs"},
        format="json",
    )
    assert response.status_code == 200
    their_experiment = response.json()["model"]["info"]["experiment_id"]
    found = search(owner_api, experiment_ids=["0", their_experiment])["models"]
    assert [m["info"]["name"] for m in found] == ["ours"]


# -- who may do what -------------------------------------------------------------------------------


def test_reader_reads_and_searches_but_cannot_write(api_client, owner_api, reader):
    model_id = create(owner_api, experiment_id="0", tags=[{"key": "t", "value": "v"}])["info"]["model_id"]
    client = api_client(reader)
    assert client.get(f"{BASE}/{model_id}").status_code == 200
    assert len(search(client, experiment_ids=["0"])["models"]) == 1
    for response in (
        client.post(BASE, {"experiment_id": "0"}, format="json"),
        client.patch(f"{BASE}/{model_id}", {"status": "LOGGED_MODEL_READY"}, format="json"),
        client.delete(f"{BASE}/{model_id}"),
        client.patch(f"{BASE}/{model_id}/tags", {"tags": [{"key": "x", "value": "y"}]}, format="json"),
        client.delete(f"{BASE}/{model_id}/tags/t"),
        client.post(f"{BASE}/{model_id}/params", {"params": [{"key": "x", "value": "y"}]}, format="json"),
    ):
        error(response, 403, "PERMISSION_DENIED")
    assert LoggedModel.objects.count() == 1


def test_outsider_cannot_reach_the_model_through_their_own_workspace(api_client, owner_api, outsider):
    model_id = create(owner_api, experiment_id="0")["info"]["model_id"]
    theirs = api_client(outsider)
    other = f"/mlflow/v1.0/workspaces/oscars-ws/api/2.0/mlflow/logged-models/{model_id}"
    error(theirs.get(other), 404, "RESOURCE_DOES_NOT_EXIST")
    error(theirs.delete(other), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        theirs.patch(f"{other}/tags", {"tags": [{"key": "x", "value": "y"}]}, format="json"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(theirs.get(f"{BASE}/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert LoggedModel.objects.get(model_id=model_id).lifecycle_stage == "active"


# -- the real client -------------------------------------------------------------------------------


@pytest.fixture
def tracking_uri(studio, monkeypatch):
    import mlflow

    uri = studio.url + "/mlflow/v1.0/workspaces/my-workspace"
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", studio.token())
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.mark.e2e
def test_sklearn_log_model_and_load_it_back(tracking_uri, studio, tmp_path):
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    features = rng.normal(size=(40, 3))
    labels = (features[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(features, labels)

    experiment_id = mlflow.set_experiment(f"logged-models-{uuid.uuid4().hex[:8]}").experiment_id
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(model, name="clf", input_example=features[:2])
        mlflow.log_metric("accuracy", 0.93, model_id=info.model_id)

    assert info.model_id.startswith("m-")
    assert info.model_uri == f"models:/{info.model_id}"
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.status.value == "READY"
    assert logged.source_run_id == run.info.run_id
    assert logged.experiment_id == experiment_id
    assert logged.params["C"] == "1.0"
    assert logged.artifact_location.endswith(f"dcid.{run.info.run_id}/outputs/models/{info.model_id}")
    assert [m.key for m in logged.metrics] == ["accuracy"]

    # The model's files are in the run's outputs, where the job's Outputs tab lists them.
    names = {f.path for f in client.list_artifacts(run.info.run_id, f"outputs/models/{info.model_id}")}
    assert f"outputs/models/{info.model_id}/MLmodel" in names

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict(features[:5])) == list(model.predict(features[:5]))
    direct = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/outputs/models/{info.model_id}")
    assert list(direct.predict(features)) == list(model.predict(features))

    found = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="metrics.accuracy > 0.9", output_format="list"
    )
    assert [m.model_id for m in found] == [info.model_id]

    client.set_logged_model_tags(info.model_id, {"stage": "candidate"})
    assert client.get_logged_model(info.model_id).tags["stage"] == "candidate"
    client.delete_logged_model_tag(info.model_id, "stage")
    assert "stage" not in client.get_logged_model(info.model_id).tags
    client.delete_logged_model(info.model_id)
    assert mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list") == []

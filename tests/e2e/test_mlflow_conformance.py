"""The real MLflow client against the real studio: each workspace is an MLflow tracking server and
model registry at `http://<host>/mlflow/v1.0/workspaces/<workspace>`.

Every test drives mlflow's own public API (fluent `mlflow.*` and `MlflowClient`) with nothing but
MLFLOW_TRACKING_URI and a studio token (or a username and password), as a user's laptop does; the
last test does the same from inside a command job that the studio runs, with no MLflow setup in the
script at all. Each test has experiments and models of its own (unique names).
"""

import io
import math
import os
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import mlflow
import mlflow.data
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import fluent
from sklearn.linear_model import LogisticRegression

from tests.studio_process import ADMIN_PASSWORD, ADMIN_USER

pytestmark = pytest.mark.e2e

WORKSPACE = "my-workspace"
TRACKING_PATH = f"/mlflow/v1.0/workspaces/{WORKSPACE}"
API = f"/api/v1/workspaces/{WORKSPACE}"
JOB_CODE = Path(__file__).parent / "mlflow_job"
USER_PASSWORD = "Mlflow-conformance-pw-7"
CLEARED_ENV = (
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_code(excinfo) -> str:
    return excinfo.value.error_code


def training_data(rows: int = 60):
    rng = np.random.default_rng(7)
    features = rng.normal(size=(rows, 3))
    labels = (features[:, 0] - features[:, 2] > 0).astype(int)
    return features, labels


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_token(studio):
    return studio.token()


@pytest.fixture(scope="module")
def admin_api(studio, admin_token):
    with studio.client(admin_token) as client:
        yield client


@pytest.fixture
def tracking_uri(studio, admin_token, monkeypatch):
    """The client pointed at my-workspace with the admin's token; any active run ended afterwards."""
    uri = studio.url + TRACKING_PATH
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", admin_token)
    # A server error fails the test at once instead of after minutes of retries with backoff.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    fluent._active_experiment_id = None
    yield uri
    while mlflow.active_run() is not None:
        try:
            mlflow.end_run()
        except MlflowException:
            fluent._active_run_stack.get().pop()
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture
def client(tracking_uri):
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@pytest.fixture(scope="module")
def make_member(studio, admin_api):
    """make_member(role or None) -> a new user's token; None makes a user with no place in my-workspace."""

    def make(role: str | None) -> tuple[str, str]:
        username = unique("mlflow-user").replace("-", "_")
        response = admin_api.post("/api/v1/users", json={"username": username, "password": USER_PASSWORD})
        assert response.status_code == 201, response.text
        if role is not None:
            response = admin_api.post(f"{API}/members", json={"username": username, "role": role})
            assert response.status_code == 201, response.text
        return username, studio.token(username)

    return make


def new_experiment(name_prefix: str = "conf") -> str:
    """A fresh experiment set as the active one; returns its id."""
    return mlflow.set_experiment(unique(name_prefix)).experiment_id


# -- experiments and runs ----------------------------------------------------------------------------


def test_set_experiment_creates_it_then_finds_the_existing_one(client):
    name = unique("conf-exp")
    assert client.get_experiment_by_name(name) is None
    created = mlflow.set_experiment(name)
    assert created.name == name
    assert created.lifecycle_stage == "active"
    assert created.artifact_location.startswith("mlflow-artifacts:/")
    again = mlflow.set_experiment(name)
    assert again.experiment_id == created.experiment_id
    assert client.get_experiment(created.experiment_id).name == name
    assert client.get_experiment_by_name(name).experiment_id == created.experiment_id
    by_id = mlflow.set_experiment(experiment_id=created.experiment_id)
    assert by_id.name == name
    names = {e.name for e in client.search_experiments(filter_string=f"name = '{name}'")}
    assert names == {name}


def test_start_run_and_end_run_finish_it_with_an_end_time(client):
    experiment_id = new_experiment()
    before = int(time.time() * 1000) - 1000
    with mlflow.start_run(run_name="first-run") as run:
        run_id = run.info.run_id
        assert run.info.experiment_id == experiment_id
        assert run.info.status == "RUNNING"
        assert run.info.run_name == "first-run"
        live = client.get_run(run_id)
        assert live.info.status == "RUNNING"
        assert live.info.end_time is None
    finished = client.get_run(run_id)
    assert finished.info.status == "FINISHED"
    assert finished.info.end_time is not None
    assert before <= finished.info.start_time <= finished.info.end_time <= int(time.time() * 1000) + 1000
    assert finished.info.lifecycle_stage == "active"
    assert finished.info.artifact_uri.startswith("mlflow-artifacts:/workspaceartifactstore/")
    assert run_id in finished.info.artifact_uri

    mlflow.start_run()
    failed_id = mlflow.active_run().info.run_id
    mlflow.end_run(status="FAILED")
    assert client.get_run(failed_id).info.status == "FAILED"


def test_params_metrics_tags_and_log_batch_show_in_get_run(client):
    new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"layers": 3, "activation": "relu"})
        mlflow.log_metric("accuracy", 0.75)
        mlflow.log_metric("accuracy", 0.875, step=1)
        mlflow.log_metrics({"loss": 0.25, "f1": 0.5}, step=2)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev", "owner": "alice"})
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("batch_metric", 1.5, now, 0), Metric("batch_metric", 2.5, now + 1, 1)],
            params=[Param("batch_param", "x")],
            tags=[RunTag("batch_tag", "y")],
        )
    data = client.get_run(run.info.run_id).data
    assert data.params == {"alpha": "0.5", "layers": "3", "activation": "relu", "batch_param": "x"}
    assert data.metrics == {"accuracy": 0.875, "loss": 0.25, "f1": 0.5, "batch_metric": 2.5}
    assert {k: data.tags[k] for k in ("team", "stage", "owner", "batch_tag")} == {
        "team": "vision",
        "stage": "dev",
        "owner": "alice",
        "batch_tag": "y",
    }
    assert data.tags["mlflow.runName"] == client.get_run(run.info.run_id).info.run_name


def test_a_param_cannot_change_its_value(client):
    new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
        mlflow.log_param("p", "1")  # the same value again is fine
        with pytest.raises(MlflowException) as excinfo:
            mlflow.log_param("p", "2")
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params == {"p": "1"}


def test_update_run_renames_and_terminates(client):
    experiment_id = new_experiment()
    run = client.create_run(experiment_id, run_name="before", tags={"k": "v"})
    client.update_run(run.info.run_id, name="after")
    assert client.get_run(run.info.run_id).info.run_name == "after"
    client.set_terminated(run.info.run_id, status="KILLED")
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "KILLED"
    assert ended.info.end_time is not None
    assert ended.data.tags["k"] == "v"
    client.delete_tag(run.info.run_id, "k")
    assert "k" not in client.get_run(run.info.run_id).data.tags


def test_nested_runs_carry_their_parent(client):
    experiment_id = new_experiment()
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_param("depth", "1")
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    children = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert [r.info.run_id for r in children] == [child.info.run_id]
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert client.get_run(child.info.run_id).info.status == "FINISHED"


def test_explicit_start_and_end_times_are_kept(client):
    experiment_id = new_experiment()
    start = int(time.time() * 1000) - 3_600_000
    run = client.create_run(experiment_id, start_time=start)
    client.set_terminated(run.info.run_id, end_time=start + 1234)
    info = client.get_run(run.info.run_id).info
    assert (info.start_time, info.end_time) == (start, start + 1234)
    client.log_metric(run.info.run_id, "m", 1.0, timestamp=start + 5, step=7)
    [metric] = client.get_metric_history(run.info.run_id, "m")
    assert (metric.timestamp, metric.step, metric.value) == (start + 5, 7, 1.0)


def test_param_and_tag_values_up_to_mlflows_limits(client):
    new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_param("long", "p" * 6000)
        mlflow.set_tag("long", "t" * 8000)
        mlflow.log_param("unicode", "caf\u00e9 \u2713 \U0001f680")
        # Over the limit, MLflow's server truncates a value (MLFLOW_TRUNCATE_LONG_VALUES, on by default).
        client.log_param(run.info.run_id, "too_long", "q" * 6001)
        client.set_tag(run.info.run_id, "too_long", "u" * 8001)
        with pytest.raises(MlflowException) as excinfo:
            client.log_param(run.info.run_id, "k" * 251, "v")
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    data = client.get_run(run.info.run_id).data
    assert data.params["long"] == "p" * 6000
    assert data.tags["long"] == "t" * 8000
    assert data.params["unicode"] == "caf\u00e9 \u2713 \U0001f680"
    assert data.params["too_long"] == "q" * 6000
    assert data.tags["too_long"] == "u" * 8000


def test_concurrent_and_async_logging_to_one_run(client):
    import threading

    new_experiment()
    errors = []
    with mlflow.start_run() as run:
        run_id = run.info.run_id

        def log(worker: int):
            try:
                own = MlflowClient()
                for step in range(25):
                    own.log_metric(run_id, f"w{worker}", float(step), step=step)
                own.log_param(run_id, f"param{worker}", str(worker))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(exc))

        threads = [threading.Thread(target=log, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for step in range(50):
            mlflow.log_metric("async", float(step), step=step, synchronous=False)
    mlflow.flush_async_logging()
    assert errors == []
    data = client.get_run(run_id).data
    assert {f"param{w}" for w in range(4)} <= set(data.params)
    for worker in range(4):
        assert [m.value for m in client.get_metric_history(run_id, f"w{worker}")] == [float(s) for s in range(25)]
    assert sorted(m.step for m in client.get_metric_history(run_id, "async")) == list(range(50))


# -- sklearn, models, registry -----------------------------------------------------------------------


def test_sklearn_autolog_logs_params_metrics_and_a_model(client):
    new_experiment()
    features, labels = training_data()
    estimator = LogisticRegression(C=0.5, max_iter=200)
    mlflow.sklearn.autolog(log_input_examples=True, silent=True)
    try:
        with mlflow.start_run() as run:
            estimator.fit(features, labels)
    finally:
        mlflow.sklearn.autolog(disable=True)
    finished = client.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.params["C"] == "0.5"
    assert finished.data.params["max_iter"] == "200"
    assert 0.5 <= finished.data.metrics["training_score"] <= 1.0
    assert "training_accuracy_score" in finished.data.metrics
    assert finished.data.tags["estimator_name"] == "LogisticRegression"
    model_outputs = finished.outputs.model_outputs
    assert len(model_outputs) == 1
    logged = mlflow.get_logged_model(model_outputs[0].model_id)
    assert logged.source_run_id == run.info.run_id
    assert logged.status == "READY"
    model = mlflow.pyfunc.load_model(f"models:/{logged.model_id}")
    assert list(model.predict(features[:5])) == list(estimator.predict(features[:5]))


def test_sklearn_log_model_then_pyfunc_load_and_predict(client):
    new_experiment()
    features, labels = training_data()
    estimator = LogisticRegression().fit(features, labels)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(estimator, name="model", input_example=features[:2])
    assert info.run_id == run.info.run_id
    assert info.model_uri.startswith("models:/")
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict(features)) == list(estimator.predict(features))
    assert loaded.metadata.get_input_schema() is not None
    # The same model through the run's artifacts, as MLflow 2 users address it.
    logged = mlflow.get_logged_model(info.model_id)
    assert logged.artifact_location.startswith("mlflow-artifacts:/")
    sk = mlflow.sklearn.load_model(info.model_uri)
    assert list(sk.predict(features)) == list(estimator.predict(features))


def test_register_model_then_load_by_version_and_by_alias(client):
    new_experiment()
    features, labels = training_data()
    estimator = LogisticRegression().fit(features, labels)
    name = unique("conf-model")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(estimator, name="model")
    version = mlflow.register_model(info.model_uri, name)
    assert (version.name, str(version.version)) == (name, "1")
    assert version.run_id == run.info.run_id
    assert client.get_registered_model(name).name == name
    by_version = mlflow.pyfunc.load_model(f"models:/{name}/1")
    assert list(by_version.predict(features)) == list(estimator.predict(features))

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(by_alias.predict(features)) == list(estimator.predict(features))

    # A second version, then the alias moves to it.
    second = mlflow.register_model(info.model_uri, name)
    assert str(second.version) == "2"
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert {str(v.version) for v in client.search_model_versions(f"name = '{name}'")} == {"1", "2"}
    client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(name, "champion")
    assert error_code(excinfo) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def test_registry_crud_through_the_client(client):
    new_experiment()
    features, labels = training_data()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(LogisticRegression().fit(features, labels), name="model")
    name = unique("conf-crud")
    client.create_registered_model(name, tags={"team": "a"}, description="first")
    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    first = client.create_model_version(name, info.model_uri, tags={"v": "1"}, model_id=info.model_id)
    second = client.create_model_version(name, info.model_uri, model_id=info.model_id)
    assert (str(first.version), str(second.version)) == ("1", "2")
    client.update_registered_model(name, description="second")
    client.set_registered_model_tag(name, "stage", "prod")
    client.update_model_version(name, "1", description="v1 notes")
    client.set_model_version_tag(name, "1", "checked", "yes")
    model = client.get_registered_model(name)
    assert model.description == "second"
    assert model.tags == {"team": "a", "stage": "prod"}
    version = client.get_model_version(name, "1")
    assert version.description == "v1 notes"
    assert version.tags == {"v": "1", "checked": "yes"}
    assert name in {m.name for m in client.search_registered_models(f"name = '{name}'")}
    latest = mlflow.pyfunc.load_model(f"models:/{name}/latest")
    assert len(latest.predict(features)) == len(labels)
    assert client.get_model_version_download_uri(name, "1").startswith("mlflow-artifacts:/")

    renamed = unique("conf-renamed-model")
    client.rename_registered_model(name, renamed)
    assert client.get_model_version(renamed, "2").name == renamed
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(name)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_model_version(renamed, "1")
    assert {str(v.version) for v in client.search_model_versions(f"name = '{renamed}'")} == {"2"}
    client.delete_registered_model(renamed)
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(renamed)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


# -- search -------------------------------------------------------------------------------------------


def _run(client, experiment_id, *, x: str, m: float, t: str, finish: bool = True) -> str:
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "x", x)
    client.log_metric(run.info.run_id, "m", m)
    client.set_tag(run.info.run_id, "t", t)
    if finish:
        client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_search_runs_with_filters_and_order(client):
    experiment_id = new_experiment("conf-search")
    r1 = _run(client, experiment_id, x="1", m=0.9, t="apple")
    r2 = _run(client, experiment_id, x="2", m=0.3, t="banana")
    r3 = _run(client, experiment_id, x="1", m=0.7, t="avocado", finish=False)

    def ids(filter_string="", **kwargs):
        return [r.info.run_id for r in client.search_runs([experiment_id], filter_string, **kwargs)]

    assert set(ids()) == {r1, r2, r3}
    assert set(ids("params.x = '1'")) == {r1, r3}
    assert set(ids("metrics.m > 0.5")) == {r1, r3}
    assert set(ids("tags.t LIKE 'a%'")) == {r1, r3}
    assert set(ids("attributes.status = 'FINISHED'")) == {r1, r2}
    assert set(ids("attributes.status = 'RUNNING'")) == {r3}
    assert ids("params.x = '1' and metrics.m > 0.5 and attributes.status = 'FINISHED'") == [r1]
    assert ids(order_by=["metrics.m DESC"]) == [r1, r3, r2]
    assert ids(order_by=["metrics.m ASC"]) == [r2, r3, r1]
    assert ids("metrics.m >= 0.3", order_by=["params.x DESC", "metrics.m ASC"]) == [r2, r3, r1]

    frame = mlflow.search_runs(experiment_ids=[experiment_id], filter_string="metrics.m > 0.5")
    assert set(frame["run_id"]) == {r1, r3}
    assert set(frame["params.x"]) == {"1"}

    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], "metrics.m >>> 1")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_search_runs_on_run_attributes(client):
    experiment_id = new_experiment("conf-attrs")
    first = client.create_run(experiment_id, run_name="alpha-run", start_time=1_000_000)
    second = client.create_run(experiment_id, run_name="beta-run", start_time=2_000_000)
    a, b = first.info.run_id, second.info.run_id

    def ids(filter_string="", **kwargs):
        return [r.info.run_id for r in client.search_runs([experiment_id], filter_string, **kwargs)]

    assert ids("attributes.run_name = 'alpha-run'") == [a]
    assert ids("attributes.run_name ILIKE 'BETA%'") == [b]
    assert ids(f"attributes.run_id IN ('{a}', 'nope')") == [a]
    assert ids("attributes.start_time > 1500000") == [b]
    assert ids(order_by=["attributes.start_time ASC"]) == [a, b]
    assert ids(order_by=["attributes.run_name DESC"]) == [b, a]
    assert ids("tags.mlflow.runName = 'beta-run'") == [b]
    other = mlflow.set_experiment(unique("conf-attrs-2")).experiment_id
    third = client.create_run(other, run_name="alpha-run")
    both = client.search_runs([experiment_id, other], "attributes.run_name = 'alpha-run'")
    assert {r.info.run_id for r in both} == {a, third.info.run_id}


def test_logged_models_search_with_metrics_and_params(client):
    experiment_id = new_experiment("conf-lm")
    features, labels = training_data()
    with mlflow.start_run():
        good = mlflow.sklearn.log_model(LogisticRegression().fit(features, labels), name="good", params={"C": "1"})
        mlflow.log_metric("acc", 0.9, model_id=good.model_id)
        bad = mlflow.initialize_logged_model(name="bad", params={"C": "0.01"})
        mlflow.log_metric("acc", 0.2, model_id=bad.model_id)
        mlflow.finalize_logged_model(bad.model_id, "READY")
    found = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list")
    assert {m.model_id for m in found} == {good.model_id, bad.model_id}
    best = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="metrics.acc > 0.5", output_format="list"
    )
    assert [m.model_id for m in best] == [good.model_id]
    by_param = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="params.C = '0.01'", output_format="list"
    )
    assert [m.model_id for m in by_param] == [bad.model_id]
    ordered = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        order_by=[{"field_name": "metrics.acc", "ascending": False}],
        output_format="list",
    )
    assert [m.model_id for m in ordered] == [good.model_id, bad.model_id]
    model = mlflow.get_logged_model(good.model_id)
    assert {m.key: m.value for m in model.metrics} == {"acc": 0.9}
    assert model.params == {"C": "1"}


def test_search_runs_pages_with_max_results_and_page_tokens(client):
    experiment_id = new_experiment("conf-paging")
    expected = [
        _run(client, experiment_id, x=str(i), m=value, t="p")
        for i, value in enumerate([0.1, 0.9, 0.5, 0.7, 0.3, 0.6, 0.2])
    ]
    by_metric = [run_id for _, run_id in sorted(zip([0.1, 0.9, 0.5, 0.7, 0.3, 0.6, 0.2], expected), reverse=True)]
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([experiment_id], max_results=3, order_by=["metrics.m DESC"], page_token=token)
        assert len(page) <= 3
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
        assert pages < 10, "the page tokens never end"
    assert pages == 3
    assert seen == by_metric
    first = client.search_runs([experiment_id], max_results=7, order_by=["metrics.m DESC"])
    assert [r.info.run_id for r in first] == by_metric
    assert not first.token


def test_search_experiments_filters_and_pages(client):
    prefix = unique("conf-se")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(5)]
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"])
    assert [e.experiment_id for e in found] == ids
    tagged = client.search_experiments(filter_string=f"name LIKE '{prefix}-%' AND tags.i = '3'")
    assert [e.experiment_id for e in tagged] == [ids[3]]
    seen, token = [], None
    for _ in range(5):
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"], max_results=2, page_token=token
        )
        seen += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    assert seen == ids


# -- metrics ------------------------------------------------------------------------------------------


def test_metric_history_in_step_order_with_its_values(client):
    new_experiment()
    values = [1.0, 0.5, 0.25, 0.125, 0.0625]
    with mlflow.start_run() as run:
        for step, value in enumerate(values):
            mlflow.log_metric("loss", value, step=step)
            time.sleep(0.002)
        mlflow.log_metric("other", 3.0)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == list(enumerate(values))
    assert all(m.key == "loss" for m in history)
    assert [m.timestamp for m in history] == sorted(m.timestamp for m in history)
    assert client.get_run(run.info.run_id).data.metrics["loss"] == 0.0625
    assert client.get_metric_history(run.info.run_id, "never-logged") == []


def test_latest_metric_is_the_greatest_step_not_the_last_logged(client):
    new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_metric("acc", 0.9, step=5)
        mlflow.log_metric("acc", 0.1, step=2)
    assert client.get_run(run.info.run_id).data.metrics["acc"] == 0.9
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "acc")] in (
        [(5, 0.9), (2, 0.1)],
        [(2, 0.1), (5, 0.9)],
    )


def test_a_long_metric_history_comes_back_whole(client):
    new_experiment()
    now = int(time.time() * 1000)
    with mlflow.start_run() as run:
        client.log_batch(run.info.run_id, metrics=[Metric("long", i / 7, now + i, i) for i in range(3000)])
    history = client.get_metric_history(run.info.run_id, "long")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(i, i / 7, now + i) for i in range(3000)]


def test_nan_and_infinite_metric_values_round_trip(client):
    new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pinf", float("inf"))
        mlflow.log_metric("ninf", float("-inf"))
        mlflow.log_metric("series", 1.0, step=0)
        mlflow.log_metric("series", float("nan"), step=1)
        mlflow.log_metric("series", float("inf"), step=2)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf
    assert metrics["ninf"] == -math.inf
    assert metrics["series"] == math.inf
    series = [m.value for m in client.get_metric_history(run.info.run_id, "series")]
    assert series[0] == 1.0 and math.isnan(series[1]) and series[2] == math.inf


# -- artifacts -----------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_artifacts_round_trip_byte_identical_with_nested_folders(client, tmp_path):
    new_experiment()
    source = tmp_path / "source"
    files = {
        "readme.txt": b"hello artifacts\n",
        "sub/data.bin": os.urandom(300_000),
        "sub/deeper/conf.json": b'{"a": [1, 2, 3]}',
        "sub/deeper/empty.txt": b"",
        "sub/with space & caf\u00e9.txt": "caf\u00e9".encode(),
    }
    for relative, content in files.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_bytes(content)
    single = tmp_path / "single.csv"
    single.write_bytes(b"a,b\n1,2\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="copies/csv")
        mlflow.log_artifacts(str(source), artifact_path="bundle")
        mlflow.log_text("some text", "notes/note.txt")
        mlflow.log_dict({"k": 1}, "notes/d.json")
    run_id = run.info.run_id

    top = {f.path: f.is_dir for f in client.list_artifacts(run_id)}
    assert top == {"single.csv": False, "copies": True, "bundle": True, "notes": True}
    bundle = {f.path: (f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "bundle")}
    assert bundle == {
        "bundle/readme.txt": (False, len(files["readme.txt"])),
        "bundle/sub": (True, None),
    }
    deeper = {f.path for f in client.list_artifacts(run_id, "bundle/sub/deeper")}
    assert deeper == {"bundle/sub/deeper/conf.json", "bundle/sub/deeper/empty.txt"}

    out = tmp_path / "out"
    out.mkdir()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle", dst_path=str(out))
    assert _tree(Path(local)) == files
    whole = tmp_path / "whole"
    whole.mkdir()
    local = client.download_artifacts(run_id, "", str(whole))
    assert _tree(Path(local)) == {
        "single.csv": single.read_bytes(),
        "copies/csv/single.csv": single.read_bytes(),
        **{f"bundle/{k}": v for k, v in files.items()},
        "notes/note.txt": b"some text",
    } | {"notes/d.json": (Path(local) / "notes/d.json").read_bytes()}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/note.txt") == "some text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/notes/d.json") == {"k": 1}
    # The run's artifacts are the job's folder in workspaceartifactstore.
    assert client.get_run(run_id).info.artifact_uri == (
        f"mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.{run_id}"
    )


def test_a_large_artifact_and_missing_paths(client, tmp_path):
    new_experiment()
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="blobs")
    run_id = run.info.run_id
    [entry] = client.list_artifacts(run_id, "blobs")
    assert (entry.path, entry.file_size) == ("blobs/big.bin", big.stat().st_size)
    local = client.download_artifacts(run_id, "blobs/big.bin", str(tmp_path / "down"))
    assert Path(local).read_bytes() == big.read_bytes()
    assert client.list_artifacts(run_id, "no/such/folder") == []
    with pytest.raises((MlflowException, requests.HTTPError, OSError)):
        client.download_artifacts(run_id, "no-such-file.txt", str(tmp_path / "none"))


def test_an_artifact_path_outside_the_run_is_refused(client, tmp_path):
    new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_text("x", "ok.txt")
    uri = client.get_run(run.info.run_id).info.artifact_uri
    with pytest.raises((MlflowException, requests.HTTPError, OSError)):
        mlflow.artifacts.download_artifacts(artifact_uri=uri + "/../../../../etc/passwd", dst_path=str(tmp_path))
    assert not (tmp_path / "passwd").exists()


# -- datasets ------------------------------------------------------------------------------------------


def test_log_input_with_a_pandas_dataset(client):
    new_experiment()
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, source="s3://bucket/train.csv", name="train-set", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    logged = inputs[0]
    assert logged.dataset.name == "train-set"
    assert logged.dataset.digest == dataset.digest
    assert logged.dataset.source_type == "s3"
    assert "s3://bucket/train.csv" in logged.dataset.source
    assert logged.dataset.schema and "a" in logged.dataset.schema
    assert {t.key: t.value for t in logged.tags} == {"mlflow.data.context": "training", "split": "train"}
    source = mlflow.data.get_source(logged)
    assert source.uri == "s3://bucket/train.csv"


# -- lifecycle -----------------------------------------------------------------------------------------


def test_delete_and_restore_a_run(client):
    experiment_id = new_experiment()
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
    run_id = run.info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert run_id not in {r.info.run_id for r in client.search_runs([experiment_id])}
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    with pytest.raises(MlflowException):
        client.log_param(run_id, "q", "2")
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert run_id in {r.info.run_id for r in client.search_runs([experiment_id])}
    client.log_param(run_id, "q", "2")


def test_delete_and_restore_an_experiment(client):
    name = unique("conf-del")
    experiment_id = mlflow.set_experiment(name).experiment_id
    fluent._active_experiment_id = None
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert name not in {e.name for e in client.search_experiments()}
    assert name in {e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)}
    with pytest.raises(MlflowException):
        mlflow.set_experiment(name)
    with pytest.raises(MlflowException) as excinfo:
        client.create_experiment(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert mlflow.set_experiment(name).experiment_id == experiment_id


def test_deleting_an_experiment_deletes_its_runs_and_restoring_brings_them_back(client):
    experiment_id = new_experiment("conf-delruns")
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
    fluent._active_experiment_id = None
    client.delete_experiment(experiment_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    client.restore_experiment(experiment_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"
    with pytest.raises(MlflowException) as excinfo:
        client.create_run("987654321")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_rename_experiment_and_experiment_tags(client):
    experiment_id = client.create_experiment(unique("conf-ren"), tags={"a": "1"})
    new_name = unique("conf-renamed")
    client.rename_experiment(experiment_id, new_name)
    client.set_experiment_tag(experiment_id, "b", "2")
    experiment = client.get_experiment(experiment_id)
    assert experiment.name == new_name
    assert experiment.tags["a"] == "1" and experiment.tags["b"] == "2"


# -- errors through the client ---------------------------------------------------------------------------


def test_get_run_of_an_unknown_id_is_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as excinfo:
        client.get_run("nonexistent_" + uuid.uuid4().hex)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_experiment("987654321")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name(unique("nobody")) is None
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(unique("no-model"))
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_log_metric_with_an_invalid_key_is_refused(client):
    new_experiment()
    with mlflow.start_run() as run:
        for bad in ("bad key!?", "../escape", "a\nb"):
            with pytest.raises(MlflowException) as excinfo:
                mlflow.log_metric(bad, 1.0)
            assert error_code(excinfo) == "INVALID_PARAMETER_VALUE", bad
    assert client.get_run(run.info.run_id).data.metrics == {}


def test_log_batch_over_the_limits_is_refused_and_writes_nothing(client):
    new_experiment()
    with mlflow.start_run() as run:
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        # MlflowClient.log_batch splits into requests the server accepts; the store sends one request.
        store = client._tracking_client.store
        metrics = [Metric(f"m{i % 1000}", float(i), now, i // 1000) for i in range(100_000)]
        with pytest.raises(MlflowException) as excinfo:
            store.log_batch(run_id, metrics=metrics, params=[], tags=[])
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException) as excinfo:
            store.log_batch(run_id, metrics=[], params=[Param(f"p{i}", "v") for i in range(101)], tags=[])
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
        # One bad entry refuses the whole batch.
        with pytest.raises(MlflowException) as excinfo:
            store.log_batch(
                run_id, metrics=[Metric("fine", 1.0, now, 0), Metric("bad key!?", 1.0, now, 0)], params=[], tags=[]
            )
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
        # Through MlflowClient, a large batch is split and lands whole.
        client.log_batch(run_id, metrics=[Metric("split", float(i), now, i) for i in range(2500)])
    data = client.get_run(run_id).data
    assert set(data.metrics) == {"split"}
    assert data.params == {}
    assert [m.key for m in client.get_metric_history(run_id, "m0")] == []
    assert len(client.get_metric_history(run_id, "split")) == 2500


# -- who may do what ------------------------------------------------------------------------------------


def test_a_readers_token_reads_but_cannot_write(client, make_member, monkeypatch, tmp_path, admin_token):
    experiment_id = new_experiment("conf-reader")
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 0.5)
        mlflow.log_text("readable", "r.txt")
    run_id = run.info.run_id
    _, token = make_member("reader")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    fluent._active_experiment_id = None

    assert client.get_run(run_id).data.params == {"p": "1"}
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    assert client.get_experiment(experiment_id).experiment_id == experiment_id
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/r.txt") == "readable"
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [0.5]

    for write in (
        lambda: client.log_param(run_id, "q", "2"),
        lambda: client.log_metric(run_id, "m", 1.0),
        lambda: client.set_tag(run_id, "t", "x"),
        lambda: client.create_run(experiment_id),
        lambda: client.create_experiment(unique("reader-exp")),
        lambda: client.delete_run(run_id),
        lambda: client.set_terminated(run_id, "FAILED"),
        lambda: client.create_registered_model(unique("reader-model")),
    ):
        with pytest.raises(MlflowException) as excinfo:
            write()
        assert error_code(excinfo) == "PERMISSION_DENIED"
    upload = tmp_path / "x.txt"
    upload.write_text("x")
    with pytest.raises(requests.HTTPError) as excinfo:
        client.log_artifact(run_id, str(upload))
    assert excinfo.value.response.status_code == 403

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", admin_token)
    run_after = client.get_run(run_id)
    assert run_after.data.params == {"p": "1"}
    assert run_after.info.lifecycle_stage == "active"


def test_an_outsiders_token_finds_nothing(client, make_member, monkeypatch, studio, tracking_uri):
    experiment_id = new_experiment("conf-outsider")
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
    _, token = make_member(None)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    for call in (
        lambda: client.get_run(run.info.run_id),
        lambda: client.get_experiment(experiment_id),
        lambda: client.log_param(run.info.run_id, "q", "1"),
        lambda: client.create_experiment(unique("outsider-exp")),
    ):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    response = httpx.get(
        tracking_uri + "/api/2.0/mlflow/runs/get",
        params={"run_id": run.info.run_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # No token at all is 401.
    response = httpx.get(tracking_uri + "/api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id})
    assert response.status_code == 401


def test_a_revoked_token_is_unauthenticated(client, admin_api, monkeypatch):
    created = admin_api.post("/api/v1/tokens", json={"name": "conformance-revoked"})
    assert created.status_code == 201, created.text
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", created.json()["token"])
    experiment_id = client.create_experiment(unique("conf-revoke"))
    assert admin_api.delete(f"/api/v1/tokens/{created.json()['id']}").status_code == 204
    with pytest.raises(MlflowException) as excinfo:
        client.get_experiment(experiment_id)
    assert error_code(excinfo) == "UNAUTHENTICATED"


def test_username_and_password_authenticate(client, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    new_experiment("conf-basic")
    with mlflow.start_run() as run:
        mlflow.log_param("via", "basic")
    assert client.get_run(run.info.run_id).data.params == {"via": "basic"}

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    with pytest.raises(MlflowException) as excinfo:
        client.get_run(run.info.run_id)
    assert error_code(excinfo) == "UNAUTHENTICATED"


def test_a_client_run_appears_in_the_studio_jobs_list(client, admin_api):
    name = unique("conf-jobs")
    mlflow.set_experiment(name)
    with mlflow.start_run(run_name="from-the-client") as run:
        mlflow.log_metric("m", 1.0)
    response = admin_api.get(f"{API}/jobs", params={"experiment": name})
    assert response.status_code == 200, response.text
    jobs = response.json()["value"]
    assert [j["name"] for j in jobs] == [run.info.run_id]
    job = jobs[0]
    assert job["display_name"] == "from-the-client"
    assert job["status"] == "Completed"
    assert job["experiment_name"] == name
    assert job["created_by"] == ADMIN_USER
    detail = admin_api.get(f"{API}/jobs/{run.info.run_id}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["status"] == "Completed"


# -- inside a command job ----------------------------------------------------------------------------------


def _code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(JOB_CODE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(JOB_CODE).as_posix())
    return buffer.getvalue()


def _wait_for_job(admin_api, name: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = admin_api.get(f"{API}/jobs/{name}").raise_for_status().json()
        if job["status"] in ("Completed", "Failed", "Canceled"):
            return job
        time.sleep(1)
    raise AssertionError(f"job {name} still {job.get('status')} after {timeout} s")


def _job_log(admin_api, name: str) -> str:
    text, offset = "", 0
    while True:
        response = admin_api.get(f"{API}/jobs/{name}/log", params={"from": offset}).raise_for_status()
        text += response.text
        if int(response.headers["X-Next-Offset"]) == offset:
            return text
        offset = int(response.headers["X-Next-Offset"])


def test_a_command_job_logs_into_its_own_run(client, admin_api, tracking_uri, monkeypatch):
    experiment = unique("conf-job-exp")
    model_name = unique("conf-job-model")
    other_workspace = unique("conf-other")
    created = admin_api.post("/api/v1/workspaces", json={"name": other_workspace})
    assert created.status_code == 201, created.text
    spec = (
        "code: .\n"
        f"command: python train.py --model-name {model_name} --other-workspace {other_workspace}\n"
        "environment: azureml:AzureML-sklearn-1.5-py311@latest\n"
        "compute: azureml:cpu-cluster\n"
        f"experiment_name: {experiment}\n"
        "display_name: mlflow-inside-a-job\n"
    )
    response = admin_api.post(
        f"{API}/jobs", data={"spec": spec}, files={"code": ("code.zip", _code_zip(), "application/zip")}
    )
    assert response.status_code == 201, response.text
    job_name = response.json()["name"]
    job = _wait_for_job(admin_api, job_name)
    log = _job_log(admin_api, job_name)
    assert job["status"] == "Completed", f"{job['status']}: {job.get('status_reason')}\n{log[-6000:]}"
    assert f"run_id={job_name}" in log

    run = client.get_run(job_name)
    assert run.info.run_id == job_name
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == experiment
    assert run.data.params == {"learning_rate": "0.05", "epochs": "3", "optimizer": "sgd"}
    assert run.data.metrics["loss"] == 0.25
    assert run.data.tags["stage"] == "inside-a-job"
    history = client.get_metric_history(job_name, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5), (2, 0.25)]

    top = {f.path for f in client.list_artifacts(job_name)}
    assert {"summary.txt", "bundle"} <= top
    assert mlflow.artifacts.load_text(f"runs:/{job_name}/summary.txt") == "trained inside a studio job\n"
    assert mlflow.artifacts.load_text(f"runs:/{job_name}/bundle/summary.txt") == "trained inside a studio job\n"

    version = client.get_model_version(model_name, "1")
    assert version.run_id == job_name
    features, labels = training_data()
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}/1")
    assert len(loaded.predict(features)) == len(labels)
    outputs = run.outputs.model_outputs
    assert len(outputs) == 1
    assert mlflow.get_logged_model(outputs[0].model_id).source_run_id == job_name

    # The studio's jobs list shows the job once, as the run of its experiment.
    listed = admin_api.get(f"{API}/jobs", params={"experiment": experiment}).json()["value"]
    assert [j["name"] for j in listed] == [job_name]

    # The job's token reached nothing in another workspace (its submitter is an administrator there),
    # and it was revoked when the job ended.
    assert "other_workspace_status=404" in log
    saved = admin_api.get(f"{API}/jobs/{job_name}/files/content", params={"path": "outputs/job_token.txt"})
    assert saved.status_code == 200, saved.text
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", saved.text.strip())
    with pytest.raises(MlflowException) as excinfo:
        client.get_run(job_name)
    assert error_code(excinfo) == "UNAUTHENTICATED"

"""Metrics over the MLflow REST protocol: log-metric, get-history (paged), bulk-interval sampling,
the shared writer services.metrics_record, and the chart series."""

import json
import math
import threading
import uuid

import pytest
from django.db import connection, transaction

from jobs.models import Experiment, Job, LifecycleStage
from tracking.models import LatestMetric, Metric
from tracking.series import metric_keys, metric_points_since, metric_series
from tracking.services import metrics_record

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"


@pytest.fixture
def run(workspace):
    experiment = Experiment.objects.create(workspace=workspace, name="exp")
    return Job.objects.create(workspace=workspace, experiment=experiment, name="run-1")


@pytest.fixture
def owner_api(api_client, owner):
    return api_client(owner)


def _post(client, path, body):
    return client.post(BASE + path, json.dumps(body), content_type="application/json")


def _latest(job, key):
    latest = LatestMetric.objects.get(job=job, key=key)
    return latest.value, latest.step, latest.timestamp


def _m(key, value, step=0, timestamp=1000):
    return {"key": key, "value": value, "step": step, "timestamp": timestamp}


# --- metrics_record -----------------------------------------------------------------------


@pytest.mark.django_db
def test_record_metrics_stores_points_and_latest(run):
    with transaction.atomic():
        stored = metrics_record(job_id=run.pk, metrics=[_m("loss", 0.5, 1), _m("loss", 0.25, 2), _m("acc", 0.9, 1)])
    assert stored == 3
    assert Metric.objects.filter(job=run).count() == 3
    assert _latest(run, "loss") == (0.25, 2, 1000)
    assert _latest(run, "acc") == (0.9, 1, 1000)


@pytest.mark.django_db
def test_latest_metric_keeps_greatest_step_when_logged_out_of_order(run):
    metrics_record(job_id=run.pk, metrics=[_m("loss", 0.1, step=10)])
    metrics_record(job_id=run.pk, metrics=[_m("loss", 0.9, step=3, timestamp=5000)])
    assert _latest(run, "loss") == (0.1, 10, 1000)
    metrics_record(job_id=run.pk, metrics=[_m("loss", 0.2, step=10, timestamp=2000)])
    assert _latest(run, "loss") == (0.2, 10, 2000)
    # Same step and timestamp: the greater value wins, as in MLflow's SQL store.
    metrics_record(
        job_id=run.pk, metrics=[_m("loss", 0.3, step=10, timestamp=2000), _m("loss", 0.05, step=10, timestamp=2000)]
    )
    assert _latest(run, "loss") == (0.3, 10, 2000)


@pytest.mark.django_db
def test_nan_and_infinities(run):
    metrics_record(job_id=run.pk, metrics=[_m("x", "NaN", 1), _m("y", "Infinity", 1), _m("z", float("-inf"), 1)])
    assert _latest(run, "x") == (None, 1, 1000)
    assert _latest(run, "y")[0] == math.inf
    assert _latest(run, "z")[0] == -math.inf
    # NaN ranks as 0: a later step replaces it; a negative value at the same point does not.
    metrics_record(job_id=run.pk, metrics=[_m("x", -1.0, 1)])
    assert _latest(run, "x") == (None, 1, 1000)
    metrics_record(job_id=run.pk, metrics=[_m("x", 2.0, 1)])
    assert _latest(run, "x") == (2.0, 1, 1000)
    metrics_record(job_id=run.pk, metrics=[_m("x", "NaN", 2)])
    assert _latest(run, "x") == (None, 2, 1000)


@pytest.mark.django_db
def test_identical_points_are_stored_once(run):
    points = [_m("loss", 0.5, 1), _m("loss", "NaN", 2), _m("loss", 0.5, 1)]
    assert metrics_record(job_id=run.pk, metrics=points) == 2
    assert metrics_record(job_id=run.pk, metrics=points) == 0
    assert metrics_record(job_id=run.pk, metrics=[_m("loss", 0.6, 1)]) == 1
    assert Metric.objects.filter(job=run).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_into_one_run_store_a_retried_batch_once(run):
    """A batch and its retry in flight at once, and batches with their keys in opposite orders:
    every point once, no deadlock (writers into one run take turns on its row)."""
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database refuses concurrent writers; the PostgreSQL suite runs this")
    batch = [_m("loss", float(i), i) for i in range(1000)]
    forward = [_m(f"k{i}", 1.0, 5) for i in range(30)]
    errors = []

    def write(points):
        try:
            for _ in range(5):
                with transaction.atomic():
                    metrics_record(job_id=run.pk, metrics=points)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(points,)) for points in (batch, batch, forward, forward[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Metric.objects.filter(job=run, key="loss").count() == 1000
    assert Metric.objects.filter(job=run).count() == 1030


@pytest.mark.django_db
@pytest.mark.parametrize(
    "metric",
    [
        _m("loss", "garbage"),
        _m("loss", True),
        _m("loss", {"a": 1}),
        {"key": ["a"], "value": 1.0, "timestamp": 1, "step": 0},
        _m("bad\nname", 1.0),
        _m("../escape", 1.0),
        _m("k" * 251, 1.0),
        {"key": "loss", "value": 1.0, "timestamp": -1, "step": 0},
        {"key": "loss", "value": 1.0, "timestamp": 1, "step": "x"},
        {"key": "loss", "value": 1.0, "timestamp": 1, "step": 2**63},
        {"key": "loss", "timestamp": 1, "step": 0},
        "not an object",
    ],
)
def test_invalid_metrics_write_nothing(run, metric):
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as info:
        metrics_record(job_id=run.pk, metrics=[_m("fine", 1.0), metric])
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert not Metric.objects.exists()


# --- runs/log-metric ------------------------------------------------------------------------


@pytest.mark.django_db
def test_log_metric_endpoint(owner_api, run):
    body = {"run_id": "run-1", "run_uuid": "run-1", "key": "loss", "value": 0.5, "timestamp": 1700, "step": 3}
    response = _post(owner_api, "runs/log-metric", body)
    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert _post(owner_api, "runs/log-metric", body).status_code == 200  # a retry
    assert list(Metric.objects.values_list("key", "value", "step", "timestamp")) == [("loss", 0.5, 3, 1700)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"value": "garbage"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"value": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"timestamp": None}, 400, "INVALID_PARAMETER_VALUE"),
        ({"key": "k" * 3_000_000}, 400, "INVALID_PARAMETER_VALUE"),  # larger bodies: 413 (STUDIO_MAX_REQUEST_SIZE)
        ({"key": "a\tb"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "nope", "run_uuid": "nope"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ],
)
def test_log_metric_errors(owner_api, run, change, status, code):
    body = {"run_id": "run-1", "key": "loss", "value": 0.5, "timestamp": 1700, "step": 0, **change}
    response = _post(owner_api, "runs/log-metric", body)
    assert response.status_code == status
    assert response.json()["error_code"] == code
    assert not Metric.objects.exists()


@pytest.mark.django_db
def test_log_metric_to_deleted_run_is_refused(owner_api, run):
    Job.objects.filter(pk=run.pk).update(lifecycle_stage=LifecycleStage.DELETED)
    response = _post(owner_api, "runs/log-metric", {"run_id": "run-1", "key": "k", "value": 1, "timestamp": 1})
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.django_db
def test_log_metric_needs_write_role(api_client, reader, outsider, run):
    body = {"run_id": "run-1", "key": "loss", "value": 0.5, "timestamp": 1700}
    assert _post(api_client(reader), "runs/log-metric", body).json()["error_code"] == "PERMISSION_DENIED"
    assert _post(api_client(outsider), "runs/log-metric", body).status_code == 404
    assert _post(api_client(None), "runs/log-metric", body).status_code == 401
    assert not Metric.objects.exists()


# --- metrics/get-history --------------------------------------------------------------------


@pytest.mark.django_db
def test_get_history_sorted_with_non_finite_values(api_client, reader, run):
    metrics_record(
        job_id=run.pk, metrics=[_m("m", 3.0, 2), _m("m", "NaN", 0), _m("m", "Infinity", 1), _m("m", "-Infinity", 3)]
    )
    response = api_client(reader).get(BASE + "metrics/get-history", {"run_id": "run-1", "metric_key": "m"})
    assert response.status_code == 200
    metrics = response.json()["metrics"]
    assert [m["value"] for m in metrics] == ["NaN", "Infinity", 3.0, "-Infinity"]
    assert metrics[2] == {"key": "m", "value": 3.0, "timestamp": 1000, "step": 2}
    assert "next_page_token" not in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("odd", [None, "NaN", "model"], ids=["plain", "nan-on-page-2", "model-on-page-2"])
def test_get_history_pages(owner_api, run, odd):
    """Plain pages take the fast JSON path; a page with a NaN or a model's point is written point by
    point: the pages join up the same either way."""
    points = [_m("m", float(i), step=i // 2, timestamp=1000 + i % 2) for i in range(25)]
    if odd == "NaN":
        points[13]["value"] = "NaN"
    elif odd == "model":
        points[13]["model_id"] = "m-123"
    metrics_record(job_id=run.pk, metrics=points)
    seen, token, pages = [], None, 0
    while True:
        params = {"run_id": "run-1", "metric_key": "m", "max_results": 10}
        if token:
            params["page_token"] = token
        page = owner_api.get(BASE + "metrics/get-history", params).json()
        seen += [m["value"] for m in page["metrics"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == ["NaN" if odd == "NaN" and i == 13 else float(i) for i in range(25)]
    assert pages == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"run_id": "run-1"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "run-1", "metric_key": "m", "max_results": 0}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "run-1", "metric_key": "m", "max_results": "x"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "run-1", "metric_key": "m", "max_results": 2**63 - 1}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "run-1", "metric_key": "m", "page_token": "%%%"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "gone", "metric_key": "m"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ],
)
def test_get_history_errors(owner_api, run, params, status, code):
    response = owner_api.get(BASE + "metrics/get-history", params)
    assert response.status_code == status
    assert response.json()["error_code"] == code


@pytest.mark.django_db
def test_get_history_of_unknown_key_is_empty(owner_api, run):
    response = owner_api.get(BASE + "metrics/get-history", {"run_id": "run-1", "metric_key": "none"})
    assert response.json() == {"metrics": []}


# --- metrics/get-history-bulk-interval ------------------------------------------------------


@pytest.mark.django_db
def test_bulk_interval_samples_with_first_and_last(owner_api, run):
    metrics_record(job_id=run.pk, metrics=[_m("m", float(i), step=i) for i in range(1000)])
    response = owner_api.get(
        BASE + "metrics/get-history-bulk-interval", {"run_ids": ["run-1"], "metric_key": "m", "max_results": 10}
    )
    assert response.status_code == 200, response.content
    steps = [m["step"] for m in response.json()["metrics"]]
    assert len(steps) == 10
    assert steps[0] == 0 and steps[-1] == 999
    assert steps == sorted(steps)
    assert response.json()["metrics"][0]["run_id"] == "run-1"


@pytest.mark.django_db
def test_bulk_interval_step_range(owner_api, run):
    metrics_record(job_id=run.pk, metrics=[_m("m", float(i), step=i) for i in range(100)])
    url = BASE + "metrics/get-history-bulk-interval"
    response = owner_api.get(url, {"run_ids": "run-1", "metric_key": "m", "start_step": 10, "end_step": 19})
    assert [m["step"] for m in response.json()["metrics"]] == list(range(10, 20))
    response = owner_api.get(url, {"run_ids": "run-1", "metric_key": "m", "start_step": 10})
    assert response.status_code == 400
    response = owner_api.get(url, {"run_ids": "run-1", "metric_key": "m", "max_results": 2501})
    assert response.status_code == 400


# --- tracking.series ------------------------------------------------------------------------


@pytest.mark.django_db
def test_series_small_is_exact(run):
    metrics_record(job_id=run.pk, metrics=[_m("m", float(i), step=i) for i in range(5)] + [_m("m", "NaN", 5)])
    series = metric_series(run, "m", max_points=100)
    assert series["sampled"] is False
    assert series["points"] == [[0, 0.0], [1, 1.0], [2, 2.0], [3, 3.0], [4, 4.0], [5, None]]
    assert series["band"] == []


@pytest.mark.django_db
def test_series_downsamples_and_keeps_spikes(run):
    values = [_m("m", 1.0, step=i) for i in range(20_000)]
    values[12_345]["value"] = 500.0
    metrics_record(job_id=run.pk, metrics=values)
    series = metric_series(run, "m", max_points=1000)
    assert series["sampled"] is True
    assert series["count"] == 20_000
    assert 900 <= len(series["points"]) <= 1000
    assert len(series["band"]) == len(series["points"])
    assert max(high for _x, _low, high in series["band"]) == 500.0
    xs = [x for x, _y in series["points"]]
    assert xs == sorted(xs) and xs[0] <= 10 and xs[-1] >= 19_980
    by_time = metric_series(run, "m", max_points=1000, x="time")
    assert by_time["band"] == [[1000, 1.0, 500.0]]  # all points share one timestamp: one bucket


@pytest.mark.django_db
def test_series_since_and_keys(run):
    metrics_record(job_id=run.pk, metrics=[_m("m", 1.0, 1), _m("n", 2.0, 1)])
    series = metric_series(run, "m")
    metrics_record(job_id=run.pk, metrics=[_m("m", 3.0, 2), _m("m", 4.0, 3)])
    since = metric_points_since(run, "m", series["last_id"], limit=1)
    assert since["points"] == [[2, 3.0]] and since["more"] is True
    since = metric_points_since(run, "m", since["last_id"])
    assert since["points"] == [[3, 4.0]] and since["more"] is False
    assert [k["key"] for k in metric_keys(run)] == ["m", "n"]
    assert metric_keys(run)[0]["value"] == 4.0


# --- the real MLflow client against the running studio --------------------------------------


def test_real_client_logs_and_reads_metrics(studio, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", studio.token())
    client = MlflowClient(tracking_uri=f"{studio.url}/mlflow/v1.0/workspaces/my-workspace")
    run_id = client.create_run(client.create_experiment(f"metrics-e2e-{uuid.uuid4().hex[:8]}")).info.run_id
    client.log_metric(run_id, "loss", 0.5, step=0, timestamp=1000)
    client.log_metric(run_id, "loss", float("nan"), step=1, timestamp=1001)
    client.log_metric(run_id, "loss", float("inf"), step=2, timestamp=1002)
    client.log_batch(run_id, metrics=[MlflowMetric("acc", i / 30_000, 5000 + i, i) for i in range(1000)])
    for start in range(1000, 30_000, 1000):
        client.log_batch(
            run_id, metrics=[MlflowMetric("acc", i / 30_000, 5000 + i, i) for i in range(start, start + 1000)]
        )

    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert history[0].value == 0.5 and math.isnan(history[1].value) and history[2].value == math.inf
    acc = client.get_metric_history(run_id, "acc")  # two pages of 25,000
    assert [m.step for m in acc] == list(range(30_000))
    assert client.get_run(run_id).data.metrics["acc"] == 29_999 / 30_000

    with pytest.raises(MlflowException) as info:
        client.log_metric(run_id, "bad\x00key", 1.0)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


# --- the ASGI fast path for hot calls (tracking.http.MlflowFastPath) ------------------------


def _asgi_call(app, path, *, token=None, body=b"", method="POST"):
    from asgiref.sync import async_to_sync

    headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("localhost", 80),
        "client": ("127.0.0.1", 5000),
        "headers": headers,
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    async_to_sync(app)(scope, receive, send)
    return sent


@pytest.mark.django_db(transaction=True)
def test_fast_path_serves_hot_calls_with_the_views_checks(owner, reader, run):
    from accounts.services import token_create
    from tracking.http import MlflowFastPath

    async def django(scope, receive, send):
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})

    app = MlflowFastPath(django)
    _, owner_token = token_create(user=owner, name="t")
    _, reader_token = token_create(user=reader, name="t")
    body = json.dumps({"run_id": "run-1", "key": "loss", "value": 0.5, "timestamp": 1, "step": 1}).encode()

    sent = _asgi_call(app, BASE + "runs/log-metric", token=owner_token, body=body)
    assert sent[0]["status"] == 200 and json.loads(sent[1]["body"]) == {}
    assert Metric.objects.filter(job=run).count() == 1
    sent = _asgi_call(app, BASE + "runs/log-metric", token=reader_token, body=body)
    assert sent[0]["status"] == 403 and b"PERMISSION_DENIED" in sent[1]["body"]
    sent = _asgi_call(app, BASE + "runs/log-metric", token="sk-wrong", body=body)
    assert sent[0]["status"] == 401
    # No Authorization header (a browser session), or another endpoint: Django's route.
    assert _asgi_call(app, BASE + "runs/log-metric", body=body)[0]["status"] == 299
    assert _asgi_call(app, BASE + "runs/get", token=owner_token)[0]["status"] == 299


def test_the_fast_path_serves_the_routed_hot_endpoints():
    from django.urls import resolve

    from tracking.http import hot_endpoints

    assert sorted(hot_endpoints) == ["metrics/get-history", "runs/log-batch", "runs/log-metric"]
    for sub, view in hot_endpoints.items():
        assert resolve(BASE + sub).func is view


@pytest.mark.django_db
def test_remembered_access_is_forgotten_on_revoke_and_role_change(api_client, owner, contributor, run):
    from accounts.models import ApiToken
    from accounts.services import token_create
    from workspaces.models import Membership
    from workspaces.roles import Role

    _, raw = token_create(user=contributor, name="loop")
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"run_id": "run-1", "key": "loss", "value": 0.5, "timestamp": 1}
    first = _post(client, "runs/log-metric", body)
    assert first.status_code == 200, first.content
    Membership.objects.filter(user=contributor).get().delete()
    Membership.objects.create(workspace=run.workspace, user=contributor, role=Role.READER)
    assert _post(client, "runs/log-metric", {**body, "step": 1}).json()["error_code"] == "PERMISSION_DENIED"
    membership = Membership.objects.get(user=contributor)
    membership.role = Role.CONTRIBUTOR
    membership.save(update_fields=["role"])
    again = _post(client, "runs/log-metric", {**body, "step": 2})
    assert again.status_code == 200, again.content
    token = ApiToken.objects.get(user=contributor)
    token.revoked_at = token.created_at
    token.save(update_fields=["revoked_at"])
    assert _post(client, "runs/log-metric", {**body, "step": 3}).status_code == 401


@pytest.mark.parametrize(
    "raw",
    [
        {"key": "loss", "value": 0.5, "timestamp": 1000, "step": 3},
        {"key": "loss", "value": float("inf"), "timestamp": 1000, "step": -3},
        {"key": "loss", "value": float("nan"), "timestamp": 1000, "step": 3},
        {"key": "loss", "value": 1, "timestamp": 1000, "step": 3},
        {"key": "loss", "value": "0.5", "timestamp": "1000", "step": 3.0},
        {"key": "loss", "value": 0.5, "timestamp": 1000, "model_id": "m-1"},
    ],
)
def test_a_batch_checks_repeated_metric_names_once_with_the_same_rows(raw):
    from tracking.validation import clean_metric

    assert clean_metric(raw, known_keys={"loss"}) == clean_metric(raw)


@pytest.mark.parametrize("field", ["timestamp", "step"])
def test_a_batch_refuses_a_bool_or_out_of_range_number_in_a_repeated_metric(field):
    from mlflow.exceptions import MlflowException

    from tracking.validation import clean_metric

    for bad in (True, 2**63, -1 if field == "timestamp" else -(2**63) - 1):
        with pytest.raises(MlflowException, match=field):
            clean_metric({"key": "loss", "value": 0.5, "timestamp": 1, "step": 1, field: bad}, known_keys={"loss"})

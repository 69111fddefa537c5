"""Bad input that must be answered with a clear 400, not a stalled process or a 500 (SECURITY.md 23),
and credentials that stop working as soon as they change."""

import base64
import json

import pytest

from jobs.models import Experiment, Job

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"
ARTIFACTS = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow-artifacts/artifacts/"


@pytest.fixture
def client(api_client, owner, workspace):
    return api_client(owner)


def _post(client, path, body):
    return client.post(BASE + path, json.dumps(body), content_type="application/json")


def _error(response, status=400, code="INVALID_PARAMETER_VALUE") -> str:
    assert response.status_code == status, response.content[:500]
    assert response.json()["error_code"] == code
    return response.json()["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("runs/search", {"experiment_ids": ["0"], "filter": "params.p LIKE '%a%a%a%b'"}),
        ("runs/search", {"experiment_ids": ["0"], "filter": "tags.t ILIKE '%a%%%b%c'"}),
        ("experiments/search", {"filter": "name LIKE '%a%b%c%'"}),
        ("logged-models/search", {"experiment_ids": ["0"], "filter": "name LIKE '%a%b%c'"}),
    ],
)
def test_like_patterns_with_many_wildcards_are_refused(client, path, body):
    assert "'%' more than 2 times" in _error(_post(client, path, body))


def test_registry_search_refuses_many_wildcards_and_a_long_filter(client):
    url = BASE + "registered-models/search"
    assert "'%' more than 2 times" in _error(client.get(url, {"filter": "name LIKE '%a%a%a%b'"}))
    assert "at most" in _error(client.get(url, {"filter": "name = '" + "x" * 5000 + "'"}))


def test_like_with_two_wildcards_still_matches(client, workspace):
    experiment = Experiment.objects.create(workspace=workspace, name="like-exp")
    Job.objects.create(workspace=workspace, experiment=experiment, name="r1", type="run", params={"p": "xaby"})
    body = {"experiment_ids": [str(experiment.pk)], "filter": "params.p LIKE '%ab%'"}
    response = _post(client, "runs/search", body)
    assert response.status_code == 200
    assert [run["info"]["run_id"] for run in response.json()["runs"]] == ["r1"]


@pytest.mark.parametrize("path", ["registered-models/search", "model-versions/search"])
@pytest.mark.parametrize("value", ["1e999", "-1e999"])
def test_registry_max_results_out_of_range_is_a_400(client, path, value):
    """JSON's 1e999 is infinity once parsed: no whole number of results."""
    response = client.post(BASE + path, '{"max_results": ' + value + "}", content_type="application/json")
    _error(response)


def test_artifact_with_an_overlong_name_is_a_400(client):
    response = client.put(
        ARTIFACTS + "workspaceartifactstore/mlflow/" + "a" * 300, b"data", content_type="application/octet-stream"
    )
    assert "too long" in _error(response)


def test_basic_auth_stops_working_when_the_password_changes(client, owner):
    owner.set_password("first-pass-1")
    owner.save()
    from rest_framework.test import APIClient

    basic = APIClient()

    def call(password):
        token = base64.b64encode(f"{owner.username}:{password}".encode()).decode()
        return basic.get(
            BASE + "experiments/get-by-name", {"experiment_name": "nope"}, HTTP_AUTHORIZATION=f"Basic {token}"
        )

    assert call("first-pass-1").status_code == 404  # signed in: the experiment does not exist
    owner.set_password("second-pass-2")
    owner.save()
    assert call("first-pass-1").status_code == 401
    assert call("second-pass-2").status_code == 404


DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("path", ["runs/search", "experiments/create", "runs/log-batch"])
def test_json_nested_1000_deep_is_a_400_saying_so(client, path, deep):
    """SECURITY 23: the depth is named, whether the parser or the depth check stops it."""
    response = client.post(BASE + path, '{"tags": ' + deep + "}", content_type="application/json")
    assert "nested more than 32 levels deep" in _error(response)


def test_json_nested_just_deeper_than_the_limit_is_a_400(client):
    body = '{"tags": ' + "[" * 32 + "]" * 32 + "}"
    response = client.post(BASE + "runs/search", body, content_type="application/json")
    assert "nested more than 32 levels deep" in _error(response)


def _page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


SEARCHES = [
    ("POST", "runs/search", {"experiment_ids": ["0"]}),
    ("POST", "experiments/search", {}),
    ("GET", "registered-models/search", {}),
    ("GET", "model-versions/search", {}),
    ("POST", "logged-models/search", {"experiment_ids": ["0"]}),
]


def _search(client, method, path, body):
    if method == "GET":
        return client.get(BASE + path, body)
    return _post(client, path, body)


@pytest.mark.parametrize(("method", "path", "body"), SEARCHES, ids=[s[1] for s in SEARCHES])
@pytest.mark.parametrize("offset", [10**30, 2**63 + 5, -1])
def test_a_page_token_with_a_huge_offset_is_a_400(client, method, path, body, offset):
    """SECURITY 23: a forged page token is refused before the database sees its offset."""
    message = _error(_search(client, method, path, {**body, "page_token": _page_token(offset)}))
    assert "page token" in message


@pytest.mark.parametrize(("method", "path", "body"), SEARCHES[:4], ids=[s[1] for s in SEARCHES[:4]])
def test_order_by_with_1000_keys_is_a_400(client, method, path, body):
    """SECURITY 23: at most 10 order_by clauses."""
    if method == "GET":
        response = client.get(BASE + path, {**body, "order_by": [f"name{i}" for i in range(1000)]})
    else:
        response = _post(client, path, {**body, "order_by": [f"params.p{i} DESC" for i in range(1000)]})
    assert "at most 10 clauses" in _error(response)


def test_logged_model_search_with_1000_order_by_keys_is_a_400(client):
    body = {"experiment_ids": ["0"], "order_by": [{"field_name": f"metrics.m{i}"} for i in range(1000)]}
    assert "at most 10 clauses" in _error(_post(client, "logged-models/search", body))


def test_order_by_with_a_few_keys_still_sorts(client, workspace):
    experiment = Experiment.objects.create(workspace=workspace, name="order-exp")
    for name, p in (("r1", "b"), ("r2", "a")):
        Job.objects.create(workspace=workspace, experiment=experiment, name=name, type="run", params={"p": p})
    body = {"experiment_ids": [str(experiment.pk)], "order_by": ["params.p ASC", "attributes.run_name DESC"]}
    response = _post(client, "runs/search", body)
    assert [run["info"]["run_id"] for run in response.json()["runs"]] == ["r2", "r1"]


def test_experiment_tag_values_over_mlflows_limit_are_refused_naming_the_key(client):
    """SECURITY 23: 20,000 characters, as MLflow (mlflow.utils.validation)."""
    created = _post(client, "experiments/create", {"name": "tagged"})
    experiment_id = created.json()["experiment_id"]
    assert (
        _post(
            client,
            "experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": "ok", "value": "v" * 20000},
        ).status_code
        == 200
    )
    too_long = {"experiment_id": experiment_id, "key": "big-tag", "value": "v" * 20001}
    assert "'big-tag'" in _error(_post(client, "experiments/set-experiment-tag", too_long))
    body = {"name": "tagged-2", "tags": [{"key": "big-tag", "value": "v" * 20001}]}
    assert "'big-tag'" in _error(_post(client, "experiments/create", body))


def test_registry_tag_values_over_mlflows_limit_are_refused_naming_the_key(client):
    """SECURITY 23: 100,000 characters for registered model and model version tags, as MLflow."""
    value = "v" * 100_001
    body = {"name": "tagged-model", "tags": [{"key": "big-tag", "value": value}]}
    assert "'big-tag'" in _error(_post(client, "registered-models/create", body))
    assert _post(client, "registered-models/create", {"name": "tagged-model"}).status_code == 200
    set_tag = {"name": "tagged-model", "key": "big-tag", "value": value}
    assert "'big-tag'" in _error(_post(client, "registered-models/set-tag", set_tag))


def _run_id(client) -> str:
    return _post(client, "runs/create", {"experiment_id": "0"}).json()["run"]["info"]["run_id"]


def test_run_tag_and_param_values_over_mlflows_limit_are_cut_to_it_as_mlflow_does(client):
    """MLflow's server cuts a run's tag to 8,000 and a param to 6,000 characters while
    MLFLOW_TRUNCATE_LONG_VALUES is on, its default."""
    run_id = _run_id(client)
    _post(client, "runs/set-tag", {"run_id": run_id, "key": "t", "value": "t" * 9000})
    _post(client, "runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "p" * 7000}]})
    data = client.get(BASE + "runs/get", {"run_id": run_id}).json()["run"]["data"]
    assert {t["key"]: len(t["value"]) for t in data["tags"]}["t"] == 8000
    assert {p["key"]: len(p["value"]) for p in data["params"]}["p"] == 6000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("runs/set-tag", {"key": "big-tag", "value": "t" * 8001}),
        ("runs/log-batch", {"tags": [{"key": "big-tag", "value": "t" * 8001}]}),
        ("runs/log-parameter", {"key": "big-tag", "value": "p" * 6001}),
        ("runs/log-batch", {"params": [{"key": "big-tag", "value": "p" * 6001}]}),
    ],
    ids=["set-tag", "log-batch-tag", "log-parameter", "log-batch-param"],
)
def test_without_truncation_run_values_over_mlflows_limit_are_refused_naming_the_key(client, monkeypatch, path, body):
    """SECURITY 23: MLFLOW_TRUNCATE_LONG_VALUES=false on the server: refused, as MLflow does."""
    run_id = _run_id(client)
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    assert "'big-tag'" in _error(_post(client, path, {"run_id": run_id, **body}))

"""runs/search: MLflow's filter and order_by grammar over the workspace's runs (jobs)."""

import pytest

from jobs.models import Experiment
from tests.jobs.support import make_job
from workspaces.services import workspace_create

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"


def post(client, path, body):
    return client.post(BASE + path, body, format="json")


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def client(api_client, owner, workspace):
    return api_client(owner)


@pytest.fixture
def runs(client):
    """Three runs in one experiment: params, tags (one with a dot), metrics, statuses."""
    experiment_id = ok(post(client, "experiments/create", {"name": "search"}))["experiment_id"]
    rows = [
        ("alpha", "0.1", "cnn", 0.9, "FINISHED", 1_000),
        ("beta", "0.01", "rnn", 0.7, "FAILED", 2_000),
        ("gamma", "0.1", "CNN-big", 0.8, "RUNNING", 3_000),
    ]
    ids = {}
    for name, lr, model, acc, status, start in rows:
        run_id = ok(
            post(client, "runs/create", {"experiment_id": experiment_id, "run_name": name, "start_time": start})
        )["run"]["info"]["run_id"]
        batch = {
            "run_id": run_id,
            "params": [{"key": "lr", "value": lr}],
            "tags": [{"key": "model.family", "value": model}],
            "metrics": [{"key": "acc", "value": acc, "timestamp": 1, "step": 0}],
        }
        ok(post(client, "runs/log-batch", batch))
        if status != "RUNNING":
            ok(post(client, "runs/update", {"run_id": run_id, "status": status, "end_time": start + 500}))
        ids[name] = run_id
    return experiment_id, ids


def search(client, experiment_id, **body) -> list[str]:
    result = ok(post(client, "runs/search", {"experiment_ids": [experiment_id], **body}))
    return [run["info"]["run_name"] for run in result.get("runs", [])]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("", ["gamma", "beta", "alpha"]),
        ("params.lr = '0.1'", ["gamma", "alpha"]),
        ("params.lr != '0.1'", ["beta"]),
        ("tags.`model.family` LIKE 'cnn%'", ["alpha"]),
        ("tags.`model.family` ILIKE 'cnn%'", ["gamma", "alpha"]),
        ("tags.`model.family` = 'rnn'", ["beta"]),
        ("metrics.acc > 0.75", ["gamma", "alpha"]),
        ("metrics.acc <= 0.8", ["gamma", "beta"]),
        ("metrics.acc = 0.9", ["alpha"]),
        ("metrics.missing > 0", []),
        ("params.missing = 'x'", []),
        ("tags.missing IS NULL", ["gamma", "beta", "alpha"]),
        ("attributes.status = 'FINISHED'", ["alpha"]),
        ("status != 'RUNNING'", ["beta", "alpha"]),
        ("attributes.run_name = 'beta'", ["beta"]),
        ("run_name LIKE '%a'", ["gamma", "beta", "alpha"]),
        ("attributes.start_time >= 2000", ["gamma", "beta"]),
        ("attributes.start_time = 1000", ["alpha"]),
        ("attributes.end_time < 2400", ["alpha"]),
        ("params.lr = '0.1' and metrics.acc < 0.85", ["gamma"]),
    ],
)
def test_filters(client, runs, filter_string, expected):
    experiment_id, _ = runs
    assert search(client, experiment_id, filter=filter_string) == expected


def test_filter_by_run_id_in(client, runs):
    experiment_id, ids = runs
    found = search(client, experiment_id, filter=f"attributes.run_id IN ('{ids['alpha']}', '{ids['beta']}')")
    assert sorted(found) == ["alpha", "beta"]


def test_user_id_filter_and_order(client, runs):
    """user_id is the one the client sent, else the studio user who created the run."""
    experiment_id, _ = runs
    body = {"experiment_id": experiment_id, "run_name": "delta", "user_id": "zed", "start_time": 4_000}
    ok(post(client, "runs/create", body))
    assert search(client, experiment_id, filter="attributes.user_id = 'zed'") == ["delta"]
    assert search(client, experiment_id, filter="attributes.user_id != 'zed'") == ["gamma", "beta", "alpha"]
    assert search(client, experiment_id, order_by=["attributes.user_id DESC"]) == ["delta", "gamma", "beta", "alpha"]


def test_order_by(client, runs):
    experiment_id, _ = runs
    assert search(client, experiment_id, order_by=["metrics.acc DESC"]) == ["alpha", "gamma", "beta"]
    assert search(client, experiment_id, order_by=["params.lr ASC", "attributes.run_name DESC"]) == [
        "beta",
        "gamma",
        "alpha",
    ]
    assert search(client, experiment_id, order_by=["tags.`model.family`"]) == ["gamma", "alpha", "beta"]
    assert search(client, experiment_id, order_by=["attributes.start_time ASC"]) == ["alpha", "beta", "gamma"]


def test_pages(client, runs):
    experiment_id, _ = runs
    first = ok(post(client, "runs/search", {"experiment_ids": [experiment_id], "max_results": 2}))
    assert [r["info"]["run_name"] for r in first["runs"]] == ["gamma", "beta"]
    body = {"experiment_ids": [experiment_id], "max_results": 2, "page_token": first["next_page_token"]}
    second = ok(post(client, "runs/search", body))
    assert [r["info"]["run_name"] for r in second["runs"]] == ["alpha"]
    assert "next_page_token" not in second


def test_view_type(client, runs):
    experiment_id, ids = runs
    ok(post(client, "runs/delete", {"run_id": ids["beta"]}))
    assert search(client, experiment_id) == ["gamma", "alpha"]
    assert search(client, experiment_id, run_view_type="DELETED_ONLY") == ["beta"]
    assert search(client, experiment_id, run_view_type="ALL") == ["gamma", "beta", "alpha"]


def test_results_carry_the_run_data(client, runs):
    experiment_id, ids = runs
    result = ok(post(client, "runs/search", {"experiment_ids": [experiment_id], "filter": "params.lr = '0.01'"}))
    (run,) = result["runs"]
    assert run["info"]["run_id"] == ids["beta"] and run["info"]["status"] == "FAILED"
    assert run["data"]["params"] == [{"key": "lr", "value": "0.01"}]
    assert run["data"]["metrics"] == [{"key": "acc", "value": 0.7, "timestamp": 1, "step": 0}]


def test_studio_jobs_are_runs_too(client, workspace):
    make_job(workspace, name="studio-run", experiment="studio-exp", params={"lr": "0.5"})
    experiment = Experiment.objects.get(workspace=workspace, name="studio-exp")
    result = ok(post(client, "runs/search", {"experiment_ids": [str(experiment.pk)], "filter": "params.lr = '0.5'"}))
    assert [(r["info"]["run_id"], r["info"]["status"]) for r in result["runs"]] == [("studio-run", "FINISHED")]


def test_other_workspaces_runs_are_not_found(client, make_user):
    other = workspace_create(user=make_user("other-owner"), name="other-ws")
    make_job(other, name="foreign-run", experiment="shared-name")
    foreign = Experiment.objects.get(workspace=other)
    result = ok(post(client, "runs/search", {"experiment_ids": [str(foreign.pk)]}))
    assert result.get("runs", []) == []


def test_datasets_filter(client, runs):
    experiment_id, ids = runs
    dataset = {"name": "iris", "digest": "d1", "source_type": "local", "source": "{}"}
    inputs = {
        "run_id": ids["alpha"],
        "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset}],
    }
    ok(post(client, "runs/log-inputs", inputs))
    assert search(client, experiment_id, filter="datasets.name = 'iris'") == ["alpha"]
    assert search(client, experiment_id, filter="datasets.context = 'train'") == ["alpha"]
    assert search(client, experiment_id, filter="datasets.digest = 'other'") == []


@pytest.mark.parametrize(
    "body",
    [
        {"max_results": 50001},
        {"filter": "metrics.acc > 'abc' and"},
        {"filter": "params.lr > '1'"},
        {"filter": "nonsense.key = 1"},
        {"order_by": ["metrics.acc SIDEWAYS"]},
        {"page_token": "!!!"},
    ],
)
def test_bad_search_arguments_are_invalid(client, runs, body):
    experiment_id, _ = runs
    response = post(client, "runs/search", {"experiment_ids": [experiment_id], **body})
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"

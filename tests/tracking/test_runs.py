"""MLflow run endpoints (a run is a Job), through the client's HTTP protocol."""

import pytest
from django.urls import reverse

from jobs.models import Experiment, Job, JobStatus, LifecycleStage
from tests.jobs.support import make_job
from tracking.models import LatestMetric, Metric, RunInput, RunOutput

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"


def post(client, path, body):
    return client.post(BASE + path, body, format="json")


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code


@pytest.fixture
def client(api_client, owner, workspace):
    return api_client(owner)


def start(client, **body) -> dict:
    return ok(post(client, "runs/create", {"experiment_id": "0", **body}))["run"]


def get_run(client, run_id) -> dict:
    return ok(client.get(BASE + "runs/get", {"run_id": run_id}))["run"]


def test_create_makes_a_running_job_of_type_run(client, owner, workspace):
    run = start(
        client, run_name="first", user_id="alice", start_time=1_700_000_000_123, tags=[{"key": "a", "value": "1"}]
    )
    info = run["info"]
    assert info["status"] == "RUNNING" and info["run_name"] == "first" and info["user_id"] == "alice"
    assert info["start_time"] == 1_700_000_000_123
    assert info["run_id"] == info["run_uuid"] and len(info["run_id"]) == 32
    assert info["artifact_uri"] == f"mlflow-artifacts:/workspaceartifactstore/ExperimentRun/dcid.{info['run_id']}"
    assert info["lifecycle_stage"] == "active"
    assert {"key": "mlflow.runName", "value": "first"} in run["data"]["tags"]

    job = Job.objects.get(name=info["run_id"])
    assert job.type == "run" and job.status == JobStatus.RUNNING and job.display_name == "first"
    assert job.workspace == workspace and job.created_by == owner and job.experiment.name == "Default"
    assert info["experiment_id"] == str(job.experiment_id)
    assert job.tags == {"a": "1", "mlflow.runName": "first"}


def test_create_without_a_name_gets_a_generated_one(client):
    info = start(client)["info"]
    assert info["run_name"] and "_" in info["run_name"]
    assert Job.objects.get(name=info["run_id"]).tags["mlflow.runName"] == info["run_name"]


def test_create_with_name_and_different_name_tag_is_invalid(client):
    response = post(
        client,
        "runs/create",
        {"experiment_id": "0", "run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]},
    )
    error(response, 400, "INVALID_PARAMETER_VALUE")


def test_create_in_unknown_or_deleted_experiment(client, workspace):
    error(post(client, "runs/create", {"experiment_id": "99999"}), 404, "RESOURCE_DOES_NOT_EXIST")
    gone = Experiment.objects.create(workspace=workspace, name="gone", lifecycle_stage=LifecycleStage.DELETED)
    error(post(client, "runs/create", {"experiment_id": str(gone.pk)}), 400, "INVALID_PARAMETER_VALUE")


def test_nested_run_is_a_child_job(client):
    parent = start(client)["info"]["run_id"]
    child = start(client, tags=[{"key": "mlflow.parentRunId", "value": parent}])["info"]["run_id"]
    assert Job.objects.get(name=child).parent.name == parent


def test_get_unknown_run_is_404(client):
    error(client.get(BASE + "runs/get", {"run_id": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_end_run_finishes_the_job(client):
    run_id = start(client)["info"]["run_id"]
    info = ok(post(client, "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 1_800_000_000_000}))[
        "run_info"
    ]
    assert info["status"] == "FINISHED" and info["end_time"] == 1_800_000_000_000
    job = Job.objects.get(name=run_id)
    assert job.status == JobStatus.COMPLETED and job.ended_at is not None
    assert list(job.events.values_list("status", flat=True)) == [JobStatus.RUNNING, JobStatus.COMPLETED]

    ok(post(client, "runs/update", {"run_id": run_id, "status": "KILLED", "end_time": 1_800_000_000_001}))
    assert Job.objects.get(name=run_id).status == JobStatus.CANCELED
    ok(post(client, "runs/update", {"run_id": run_id, "status": "RUNNING"}))
    job = Job.objects.get(name=run_id)
    assert job.status == JobStatus.RUNNING and job.ended_at is None


def test_update_renames(client):
    run_id = start(client, run_name="before")["info"]["run_id"]
    assert ok(post(client, "runs/update", {"run_id": run_id, "run_name": "after"}))["run_info"]["run_name"] == "after"
    job = Job.objects.get(name=run_id)
    assert job.display_name == "after" and job.tags["mlflow.runName"] == "after"


def test_client_cannot_end_a_studio_job_but_can_rename_it(client, workspace):
    job = make_job(workspace, name="studio-job", status=JobStatus.RUNNING, type="command")
    info = ok(
        post(client, "runs/update", {"run_id": "studio-job", "status": "FINISHED", "end_time": 1, "run_name": "nice"})
    )["run_info"]
    assert info["status"] == "RUNNING" and info["run_name"] == "nice"
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.ended_at is None and job.display_name == "nice"


def test_delete_restore_and_writes_to_a_deleted_run(client):
    run_id = start(client)["info"]["run_id"]
    ok(post(client, "runs/delete", {"run_id": run_id}))
    assert get_run(client, run_id)["info"]["lifecycle_stage"] == "deleted"
    error(post(client, "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}), 400, "INVALID_PARAMETER_VALUE")
    ok(post(client, "runs/restore", {"run_id": run_id}))
    assert Job.objects.get(name=run_id).lifecycle_stage == LifecycleStage.ACTIVE
    ok(post(client, "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}))


def test_tags_set_delete_and_run_name_tag(client):
    run_id = start(client)["info"]["run_id"]
    ok(post(client, "runs/set-tag", {"run_id": run_id, "key": "a.b", "value": "1"}))
    ok(post(client, "runs/set-tag", {"run_uuid": run_id, "key": "mlflow.runName", "value": "renamed"}))
    job = Job.objects.get(name=run_id)
    assert job.tags["a.b"] == "1" and job.display_name == "renamed"
    ok(post(client, "runs/delete-tag", {"run_id": run_id, "key": "a.b"}))
    assert "a.b" not in Job.objects.get(name=run_id).tags
    error(post(client, "runs/delete-tag", {"run_id": run_id, "key": "a.b"}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        post(client, "runs/set-tag", {"run_id": run_id, "key": "../bad", "value": "1"}), 400, "INVALID_PARAMETER_VALUE"
    )


def test_log_parameter_is_idempotent_but_immutable(client):
    run_id = start(client)["info"]["run_id"]
    ok(post(client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    ok(post(client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    error(
        post(client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert get_run(client, run_id)["data"]["params"] == [{"key": "lr", "value": "0.1"}]


def test_log_batch_writes_params_tags_and_metrics(client):
    run_id = start(client)["info"]["run_id"]
    body = {
        "run_id": run_id,
        "params": [{"key": "p.1", "value": "x"}],
        "tags": [{"key": "t", "value": "y"}],
        "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": 10, "step": 0},
            {"key": "loss", "value": 0.25, "timestamp": 11, "step": 1},
            {"key": "nan", "value": "NaN", "timestamp": 12, "step": 0},
        ],
    }
    ok(post(client, "runs/log-batch", body))
    data = get_run(client, run_id)["data"]
    assert data["params"] == [{"key": "p.1", "value": "x"}]
    assert {"key": "t", "value": "y"} in data["tags"]
    assert {"key": "loss", "value": 0.25, "timestamp": 11, "step": 1} in data["metrics"]
    assert {"key": "nan", "value": "NaN", "timestamp": 12, "step": 0} in data["metrics"]


def test_log_batch_over_the_limits_writes_nothing(client):
    run_id = start(client)["info"]["run_id"]
    huge = {
        "run_id": run_id,
        "params": [{"key": "p", "value": "1"}],
        "metrics": [{"key": f"m{i % 10}", "value": i, "timestamp": 1, "step": i} for i in range(30_000)],
    }
    error(post(client, "runs/log-batch", huge), 400, "INVALID_PARAMETER_VALUE")
    too_many_params = {"run_id": run_id, "params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}
    error(post(client, "runs/log-batch", too_many_params), 400, "INVALID_PARAMETER_VALUE")
    job = Job.objects.get(name=run_id)
    assert job.params == {} and not Metric.objects.filter(job=job).exists()


def test_log_batch_is_one_transaction(client):
    run_id = start(client)["info"]["run_id"]
    ok(post(client, "runs/log-parameter", {"run_id": run_id, "key": "fixed", "value": "1"}))
    body = {
        "run_id": run_id,
        "params": [{"key": "new", "value": "1"}, {"key": "fixed", "value": "2"}],
        "tags": [{"key": "t", "value": "v"}],
        "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}],
    }
    error(post(client, "runs/log-batch", body), 400, "INVALID_PARAMETER_VALUE")
    job = Job.objects.get(name=run_id)
    assert job.params == {"fixed": "1"} and "t" not in job.tags
    assert not LatestMetric.objects.filter(job=job).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]},
        {"metrics": [{"key": "m", "value": "abc", "timestamp": 1}]},
        {"metrics": [{"key": "m", "value": 1}]},
        {"tags": [{"value": "no key"}]},
        {"params": {"not": "a list"}},
    ],
)
def test_log_batch_bad_items_are_invalid(client, body):
    run_id = start(client)["info"]["run_id"]
    error(post(client, "runs/log-batch", {"run_id": run_id, **body}), 400, "INVALID_PARAMETER_VALUE")


def test_log_inputs_and_outputs(client):
    run_id = start(client)["info"]["run_id"]
    dataset = {"name": "iris", "digest": "abc123", "source_type": "local", "source": '{"uri": "x"}', "schema": "{}"}
    body = {
        "run_id": run_id,
        "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}],
        "models": [{"model_id": "m-1"}],
    }
    ok(post(client, "runs/log-inputs", body))
    ok(post(client, "runs/log-inputs", body))
    ok(post(client, "runs/outputs", {"run_id": run_id, "models": [{"model_id": "m-2", "step": 3}]}))
    run = get_run(client, run_id)
    assert run["inputs"]["dataset_inputs"] == [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}
    ]
    assert run["inputs"]["model_inputs"] == [{"model_id": "m-1"}]
    assert run["outputs"]["model_outputs"] == [{"model_id": "m-2", "step": 3}]
    assert RunInput.objects.filter(job__name=run_id).count() == 1
    assert RunOutput.objects.filter(job__name=run_id).count() == 1


def test_log_inputs_without_dataset_fields_is_invalid(client):
    run_id = start(client)["info"]["run_id"]
    body = {"run_id": run_id, "datasets": [{"dataset": {"name": "x"}}]}
    error(post(client, "runs/log-inputs", body), 400, "INVALID_PARAMETER_VALUE")


def test_reader_can_read_but_not_write(api_client, owner, reader):
    run_id = start(api_client(owner))["info"]["run_id"]
    reader_client = api_client(reader)
    assert get_run(reader_client, run_id)["info"]["run_id"] == run_id
    error(post(reader_client, "runs/create", {"experiment_id": "0"}), 403, "PERMISSION_DENIED")
    error(post(reader_client, "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}), 403, "PERMISSION_DENIED")


def test_client_runs_show_in_the_jobs_pages(client, browser_client, owner, workspace):
    experiment_id = ok(post(client, "experiments/create", {"name": "from-client"}))["experiment_id"]
    run_id = start(client, experiment_id=experiment_id, run_name="visible-run")["info"]["run_id"]
    ok(post(client, "runs/log-batch", {"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}]}))
    page = browser_client(owner)
    listing = page.get(reverse("job_list", args=[workspace.name]), {"experiment": "from-client"})
    assert listing.status_code == 200 and b"visible-run" in listing.content
    detail = page.get(reverse("job_detail", args=[workspace.name, run_id]))
    assert detail.status_code == 200 and b"visible-run" in detail.content


def test_deleted_runs_leave_the_jobs_list_until_restored(client, browser_client, owner, workspace):
    run_id = start(client, run_name="to-delete")["info"]["run_id"]
    page = browser_client(owner)
    url = reverse("job_list", args=[workspace.name])
    ok(post(client, "runs/delete", {"run_id": run_id}))
    assert b"to-delete" not in page.get(url).content
    ok(post(client, "runs/restore", {"run_id": run_id}))
    assert b"to-delete" in page.get(url).content


def test_a_deleted_command_job_stays_listed_while_it_runs(client, browser_client, owner, workspace):
    experiment = Experiment.objects.create(workspace=workspace, name="compute-exp")
    job = Job.objects.create(
        workspace=workspace, experiment=experiment, name="busy-job", type="command", status=JobStatus.RUNNING
    )
    ok(post(client, "runs/delete", {"run_id": job.name}))
    url = reverse("job_list", args=[workspace.name])
    assert b"busy-job" in browser_client(owner).get(url).content  # still running: it can be cancelled
    Job.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED)
    assert b"busy-job" not in browser_client(owner).get(url).content


def test_cancel_in_the_studio_ends_a_client_run(client, browser_client, owner, workspace):
    run_id = start(client)["info"]["run_id"]
    response = browser_client(owner).post(reverse("job_cancel", args=[workspace.name, run_id]))
    assert response.status_code in (200, 302)
    assert Job.objects.get(name=run_id).status == JobStatus.CANCELED
    assert get_run(client, run_id)["info"]["status"] == "KILLED"


@pytest.mark.e2e
def test_the_mlflow_client_tracks_runs_in_the_studio(studio, monkeypatch):
    """The real client against the running studio: set_experiment creates, runs log and end,
    search_runs filters, delete and restore."""
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", studio.token())
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"{studio.url}/mlflow/v1.0/workspaces/my-workspace"
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.set_experiment("client-e2e")
        assert mlflow.get_experiment_by_name("client-e2e").experiment_id == experiment.experiment_id
        for lr, acc in (("0.1", 0.9), ("0.01", 0.6)):
            with mlflow.start_run(run_name=f"lr-{lr}") as run:
                mlflow.log_params({"lr": lr, "epochs": "3"})
                mlflow.set_tags({"team.name": "vision"})
                mlflow.log_metric("acc", acc, step=1)
        client = MlflowClient(uri)
        finished = client.get_run(run.info.run_id)
        assert finished.info.status == "FINISHED" and finished.info.end_time
        assert finished.data.params == {"lr": "0.01", "epochs": "3"}
        assert finished.data.tags["team.name"] == "vision"
        assert finished.data.metrics == {"acc": 0.6}

        found = mlflow.search_runs(
            experiment_ids=[experiment.experiment_id],
            filter_string="params.lr = '0.1' and tags.`team.name` = 'vision' and metrics.acc > 0.5",
            output_format="list",
        )
        assert [r.info.run_name for r in found] == ["lr-0.1"]
        ordered = client.search_runs([experiment.experiment_id], order_by=["metrics.acc ASC"])
        assert [r.info.run_name for r in ordered] == ["lr-0.01", "lr-0.1"]

        with pytest.raises(mlflow.exceptions.MlflowException, match="Changing param values"):
            client.log_param(run.info.run_id, "lr", "0.5")

        client.delete_run(run.info.run_id)
        assert [r.info.run_name for r in client.search_runs([experiment.experiment_id])] == ["lr-0.1"]
        client.restore_run(run.info.run_id)
        assert len(client.search_runs([experiment.experiment_id])) == 2
    finally:
        mlflow.set_tracking_uri(None)

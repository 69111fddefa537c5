"""A job's own token (MLFLOW_TRACKING_TOKEN) in the tracking server (SECURITY 30): it logs to its own
run and to the runs it starts, reads its own experiment, and nothing of other jobs or experiments."""

import pytest

from accounts.services import token_create
from jobs.models import Job, JobStatus
from tests.jobs.support import make_job

pytestmark = pytest.mark.django_db

BASE = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow/"
ARTIFACTS = "/mlflow/v1.0/workspaces/team-ws/api/2.0/mlflow-artifacts/artifacts/workspaceartifactstore/"


@pytest.fixture
def jobs(workspace):
    """The job whose token calls, another job of the same experiment, and one of another experiment."""
    mine = make_job(workspace, name="mine", status=JobStatus.RUNNING, experiment="exp")
    sibling = make_job(workspace, name="sibling", status=JobStatus.RUNNING, experiment="exp")
    elsewhere = make_job(workspace, name="elsewhere", status=JobStatus.RUNNING, experiment="other-exp")
    return mine, sibling, elsewhere


@pytest.fixture
def job_client(api_client, owner, workspace, jobs):
    """The Owner's job's token: as a job's MLflow client sends it."""
    token, raw = token_create(user=owner, name="job mine")
    token.workspace, token.job_name = workspace, "mine"
    token.save()
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def post(client, path, body):
    return client.post(BASE + path, body, format="json")


def metric(run_id: str) -> dict:
    return {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}


def test_a_job_token_logs_to_its_own_run_only(job_client, jobs):
    assert post(job_client, "runs/log-metric", metric("mine")).status_code == 200
    for other in ("sibling", "elsewhere"):
        response = post(job_client, "runs/log-metric", metric(other))
        assert response.status_code in (403, 404), response.content
    refused = post(job_client, "runs/set-tag", {"run_id": "sibling", "key": "k", "value": "v"})
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert post(job_client, "runs/delete", {"run_id": "sibling"}).status_code == 403
    assert Job.objects.get(name="sibling").lifecycle_stage == "active"


def test_a_run_the_job_starts_is_its_child_and_writable(job_client, jobs):
    mine = jobs[0]
    created = post(job_client, "runs/create", {"experiment_id": str(mine.experiment_id)})
    assert created.status_code == 200, created.content
    run_id = created.json()["run"]["info"]["run_id"]
    assert Job.objects.get(name=run_id).parent_id == mine.pk
    nested = post(
        job_client,
        "runs/create",
        {"experiment_id": str(mine.experiment_id), "tags": [{"key": "mlflow.parentRunId", "value": run_id}]},
    )
    nested_id = nested.json()["run"]["info"]["run_id"]
    for run in (run_id, nested_id):
        assert post(job_client, "runs/log-metric", metric(run)).status_code == 200


def test_a_job_token_cannot_start_runs_under_another_job_or_in_another_experiment(job_client, jobs):
    mine, sibling, elsewhere = jobs
    under_sibling = post(
        job_client,
        "runs/create",
        {"experiment_id": str(mine.experiment_id), "tags": [{"key": "mlflow.parentRunId", "value": "sibling"}]},
    )
    assert under_sibling.status_code == 403
    other_experiment = post(job_client, "runs/create", {"experiment_id": str(elsewhere.experiment_id)})
    assert other_experiment.status_code == 404


def test_a_job_token_reads_its_own_experiment_only(job_client, jobs):
    mine, sibling, elsewhere = jobs
    assert job_client.get(BASE + "runs/get", {"run_id": "sibling"}).status_code == 200
    assert job_client.get(BASE + "runs/get", {"run_id": "elsewhere"}).status_code == 404
    assert job_client.get(BASE + "experiments/get-by-name", {"experiment_name": "other-exp"}).status_code == 404
    found = post(job_client, "runs/search", {"experiment_ids": [str(mine.experiment_id), str(elsewhere.experiment_id)]})
    assert {r["info"]["run_id"] for r in found.json()["runs"]} == {"mine", "sibling"}
    experiments = post(job_client, "experiments/search", {"max_results": 100}).json()["experiments"]
    assert [e["name"] for e in experiments] == ["exp"]


def test_a_job_token_cannot_create_or_change_experiments(job_client, jobs):
    mine = jobs[0]
    assert post(job_client, "experiments/create", {"name": "new"}).status_code == 403
    tag = {"experiment_id": str(mine.experiment_id), "key": "k", "value": "v"}
    assert post(job_client, "experiments/set-experiment-tag", tag).status_code == 403
    assert post(job_client, "experiments/delete", {"experiment_id": str(mine.experiment_id)}).status_code == 403


def test_a_job_token_writes_artifacts_to_its_own_runs_folders_only(job_client, jobs):
    own = job_client.put(ARTIFACTS + "ExperimentRun/dcid.mine/outputs/model.pkl", b"bytes", content_type="x/y")
    assert own.status_code == 200, own.content
    other = job_client.put(ARTIFACTS + "ExperimentRun/dcid.sibling/outputs/model.pkl", b"bytes", content_type="x/y")
    assert other.status_code == 403 and other.json()["error_code"] == "PERMISSION_DENIED"
    assert job_client.delete(ARTIFACTS + "ExperimentRun/dcid.sibling/outputs").status_code == 403


def test_a_person_keeps_every_right_of_their_role(api_client, owner, jobs):
    client = api_client(owner)
    assert post(client, "runs/log-metric", metric("elsewhere")).status_code == 200
    assert post(client, "experiments/create", {"name": "new"}).status_code == 200

"""Finding runs and experiments for an MLflow call, scoped to the call's workspace, and for a job's
own token (MLFLOW_TRACKING_TOKEN) to the job's experiment: it reads the runs of its experiment and
writes only its own run and the runs it started (nested runs are children of its run)."""

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

from jobs.models import Experiment, Job, LifecycleStage
from jobs.selectors import started_by_the_job

from .http import Call, invalid, not_found

MAX_ID_LENGTH = 256


def _check_id(value, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise invalid(f"'{field}' must be a non-empty string of at most {MAX_ID_LENGTH} characters.")
    return value


def run_id_of(call: Call) -> str:
    """The run id of a call: `run_id`, or the older `run_uuid` the client also sends."""
    value = call.get("run_id") or call.get("run_uuid")
    if value in (None, ""):
        raise invalid("Missing value for required parameter 'run_id'.")
    return _check_id(value, "run_id")


def get_run(call: Call, run_id: str | None = None) -> Job:
    """The workspace's run (job) with this id, or RESOURCE_DOES_NOT_EXIST."""
    run_id = _check_id(run_id, "run_id") if run_id is not None else run_id_of(call)
    job = Job.objects.filter(workspace=call.workspace, name=run_id).select_related("experiment").first()
    if job is None or (call.access.job and job.experiment_id != call.access.job_experiment_id):
        raise not_found(f"Run with id={run_id[:100]} not found")
    return job


def check_run_writable(call: Call, job: Job) -> Job:
    """A job's token writes only its own run and the runs it started: PERMISSION_DENIED otherwise."""
    if call.access.job and not started_by_the_job(call.access, job):
        raise MlflowException(
            f"A job's token writes only to its own run ({call.access.job}) and the runs it starts, not {job.name}.",
            PERMISSION_DENIED,
        )
    return job


def refuse_job_tokens(call: Call, what: str) -> None:
    if call.access.job:
        raise MlflowException(f"A job's token cannot {what}.", PERMISSION_DENIED)


def get_run_for_write(call: Call, run_id: str | None = None) -> Job:
    """As get_run, but a deleted run refuses writes (INVALID_PARAMETER_VALUE, a 400 the client does
    not retry), as MLflow's SQL store does."""
    job = check_run_writable(call, get_run(call, run_id))
    if job.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(f"The run {job.name} must be in the 'active' state. Current state is {job.lifecycle_stage}.")
    return job


def get_experiment(call: Call, experiment_id) -> Experiment:
    """The workspace's experiment with this id ("0" is the workspace's Default experiment)."""
    if experiment_id in (None, ""):
        raise invalid("Missing value for required parameter 'experiment_id'.")
    experiment = experiment_by_id(call.workspace, experiment_id)
    if experiment is None or (call.access.job and experiment.pk != call.access.job_experiment_id):
        raise not_found(f"No Experiment with id={str(experiment_id)[:100]} exists")
    return experiment


def experiment_by_id(workspace, experiment_id) -> Experiment | None:
    """The workspace's experiment with this MLflow id ("0" is its Default experiment), or None."""
    experiment_id = str(experiment_id)
    if experiment_id == "0":
        return default_experiment(workspace)
    if not experiment_id.isdigit() or len(experiment_id) > 18:
        return None
    return Experiment.objects.filter(workspace=workspace, pk=int(experiment_id)).first()


def default_experiment(workspace) -> Experiment:
    experiment, _ = Experiment.objects.get_or_create(workspace=workspace, name="Default")
    return experiment

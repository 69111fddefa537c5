"""Experiments and runs as the MLflow REST protocol writes them (the JSON of service.proto's messages).

A run is a Job: its status is the job's Azure ML status in MLflow's five words, its start and end
are the job's, its params and tags are the job's JSON, its latest metrics are LatestMetric rows.
"""

import math
from datetime import UTC, datetime

from google.protobuf import descriptor
from google.protobuf.json_format import ParseDict, ParseError

from jobs.models import JobStatus

from .http import Call, invalid
from .locations import experiment_artifact_uri, run_artifact_uri

# Azure ML job status -> MLflow RunStatus.
MLFLOW_STATUS = {
    JobStatus.NOT_STARTED: "SCHEDULED",
    JobStatus.STARTING: "SCHEDULED",
    JobStatus.PREPARING: "SCHEDULED",
    JobStatus.QUEUED: "SCHEDULED",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.FINALIZING: "RUNNING",
    JobStatus.CANCEL_REQUESTED: "RUNNING",
    JobStatus.COMPLETED: "FINISHED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELED: "KILLED",
}

# MLflow RunStatus -> the Azure ML job status a client-created run takes. SCHEDULED is NotStarted,
# not Queued: the scheduler re-sends Queued jobs to compute, and a client's run has none.
JOB_STATUS = {
    "RUNNING": JobStatus.RUNNING,
    "SCHEDULED": JobStatus.NOT_STARTED,
    "FINISHED": JobStatus.COMPLETED,
    "FAILED": JobStatus.FAILED,
    "KILLED": JobStatus.CANCELED,
}

# Where a run created by the client keeps the `user_id` it sent (a job keeps its submitter).
USER_ID_PROPERTY = "mlflow.user_id"


def read_message(call: Call, message, *, exclude: tuple[str, ...] = ()):
    """The call's arguments parsed into the request message (a service_pb2 class instance), as
    MLflow's server reads them: a GET's repeated fields may be given several times. Fields named
    in `exclude` are left out (a caller that checks them itself, faster)."""
    if call.request.method in ("GET", "HEAD"):
        data = {}
        for field in message.DESCRIPTOR.fields:
            if field.name in call.request.GET:
                repeated = field.label == descriptor.FieldDescriptor.LABEL_REPEATED
                data[field.name] = call.request.GET.getlist(field.name) if repeated else call.request.GET[field.name]
    else:
        data = {key: value for key, value in call.body.items() if key not in exclude} if exclude else call.body
    try:
        ParseDict(data, message, ignore_unknown_fields=True)
    except ParseError as exc:
        raise invalid(f"Invalid request: {str(exc)[:500]}") from None
    return message


def to_ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def from_ms(value) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC) if value not in (None, "") else None


def key_values(mapping: dict) -> list[dict]:
    return [{"key": key, "value": value} for key, value in mapping.items()]


def metric_value_json(value):
    """A stored metric value as protobuf JSON writes a double: NULL (NaN) and +-inf as strings."""
    if value is None or value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def experiment_dict(experiment) -> dict:
    """An Experiment message."""
    return {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": experiment_artifact_uri(experiment),
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": to_ms(experiment.created_at),
        "last_update_time": to_ms(experiment.updated_at),
        "tags": key_values(experiment.tags or {}),
    }


def run_user_id(job) -> str:
    properties = job.properties or {}
    if properties.get(USER_ID_PROPERTY):
        return properties[USER_ID_PROPERTY]
    return job.created_by.username if job.created_by_id else ""


def run_info_dict(job) -> dict:
    """A RunInfo message."""
    info = {
        "run_id": job.name,
        "run_uuid": job.name,
        "run_name": job.display_name or job.name,
        "experiment_id": str(job.experiment_id),
        "user_id": run_user_id(job),
        "status": MLFLOW_STATUS.get(job.status, "RUNNING"),
        "start_time": to_ms(job.started_at or job.created_at),
        "artifact_uri": run_artifact_uri(job),
        "lifecycle_stage": job.lifecycle_stage,
    }
    if job.ended_at is not None:
        info["end_time"] = to_ms(job.ended_at)
    return info


def run_data_dict(job) -> dict:
    """A RunData message: the latest value of each metric, the params and the tags."""
    metrics = [
        {"key": m.key, "value": metric_value_json(m.value), "timestamp": m.timestamp, "step": m.step}
        for m in sorted(job.latest_metrics.all(), key=lambda m: m.key)
    ]
    params = [{"key": key, "value": str(value)} for key, value in (job.params or {}).items()]
    return {"metrics": metrics, "params": params, "tags": key_values(job.tags or {})}


def dataset_dict(dataset) -> dict:
    data = {
        "name": dataset.name,
        "digest": dataset.digest,
        "source_type": dataset.source_type,
        "source": dataset.source,
    }
    if dataset.schema:
        data["schema"] = dataset.schema
    if dataset.profile:
        data["profile"] = dataset.profile
    return data


def run_inputs_dict(job) -> dict:
    """A RunInputs message: the datasets the run logged as inputs (and models, kept in properties)."""
    dataset_inputs = [
        {"tags": key_values(run_input.tags or {}), "dataset": dataset_dict(run_input.dataset)}
        for run_input in sorted(job.dataset_inputs.all(), key=lambda run_input: run_input.pk)
    ]
    model_inputs = [{"model_id": model_id} for model_id in (job.properties or {}).get("mlflow.model_inputs", [])]
    return {"dataset_inputs": dataset_inputs, "model_inputs": model_inputs}


def run_outputs_dict(job) -> dict:
    """A RunOutputs message: the logged models the run produced."""
    outputs = [
        {"model_id": out.model_id, "step": out.step} for out in sorted(job.model_outputs.all(), key=lambda out: out.pk)
    ]
    return {"model_outputs": outputs}


def run_dict(job) -> dict:
    """A Run message: info, data, inputs and outputs."""
    return {
        "info": run_info_dict(job),
        "data": run_data_dict(job),
        "inputs": run_inputs_dict(job),
        "outputs": run_outputs_dict(job),
    }

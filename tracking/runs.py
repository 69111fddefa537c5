"""MLflow endpoints: runs. A run is a Job.

`runs/create` makes a Job of type "run" (no compute, no code): it shows in the Jobs list of its
experiment with the status the client reports. A studio job (type "command") is also a run: the
code inside it logs to it through MLFLOW_RUN_ID, but only the studio ends it, so a status the
client sends for it is ignored.
"""

import uuid

from django.db import transaction
from django.utils import timezone
from mlflow.entities import DatasetInput, Param, RunStatus, RunTag, ViewType
from mlflow.environment_variables import MLFLOW_TRUNCATE_LONG_VALUES
from mlflow.protos.service_pb2 import CreateRun, LogBatch, LogInputs, LogOutputs, SearchRuns, UpdateRun
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from mlflow.utils.validation import (
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
    _validate_batch_log_api_req,
    _validate_batch_log_data,
    _validate_batch_log_limits,
    _validate_dataset_inputs,
    _validate_param,
    _validate_param_keys_unique,
    _validate_tag,
)

from jobs.models import Experiment, Job, JobStatus, JobStatusEvent, LifecycleStage
from jobs.names import generate_job_name
from workspaces.roles import Perm

from .http import Call, check_value_length, endpoint, invalid, not_found
from .models import Dataset, RunInput, RunOutput
from .search import search_runs
from .serialize import (
    JOB_STATUS,
    USER_ID_PROPERTY,
    from_ms,
    read_message,
    run_dict,
    run_info_dict,
)
from .services import check_run_writable, get_experiment, get_run, get_run_for_write, run_id_of

RUN_TYPE = "run"
RUN_NAME_MAX_LENGTH = Job._meta.get_field("display_name").max_length
MODEL_INPUTS_PROPERTY = "mlflow.model_inputs"
MAX_MODEL_ID_LENGTH = RunOutput._meta.get_field("model_id").max_length


def _run_name(value: str) -> str:
    if len(value) > RUN_NAME_MAX_LENGTH:
        raise invalid(f"A run name is at most {RUN_NAME_MAX_LENGTH} characters.")
    return value


def _locked(job: Job) -> Job:
    """The run row again, locked for a read-modify-write of its JSON (params, tags)."""
    return Job.objects.select_for_update().select_related("experiment").get(pk=job.pk)


def _set_status(job: Job, status: str, message: str = "") -> None:
    if job.status != status:
        job.status = status
        JobStatusEvent.objects.create(job=job, status=status, message=message)


# ---- create, get, update, delete ----


def _active_experiment(call: Call, experiment_id) -> Experiment:
    experiment = get_experiment(call, experiment_id or "0")
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(
            f"The experiment {experiment.pk} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    return experiment


def _parent_run(call: Call, parent_run_id) -> Job | None:
    """A nested run (`start_run(nested=True)`) is a child job of its parent run, as in Azure ML. A run
    a job's token starts is a run of the job's: its child when it names no parent."""
    if not parent_run_id:
        return Job.objects.filter(pk=call.access.job_id).first() if call.access.job else None
    parent = Job.objects.filter(workspace=call.workspace, name=parent_run_id).first()
    if parent is not None:
        check_run_writable(call, parent)
    return parent


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def create(call: Call) -> dict:
    request = read_message(call, CreateRun())
    experiment = _active_experiment(call, request.experiment_id)
    tags = {}
    _check_lengths(tags=request.tags)
    for index, tag in enumerate(request.tags):
        checked = _validate_tag(tag.key, tag.value, path=f"tags[{index}]")
        tags[checked.key] = checked.value
    tag_name = tags.get(MLFLOW_RUN_NAME)
    if request.run_name and tag_name and request.run_name != tag_name:
        raise invalid(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
            f"(run_name='{request.run_name}', mlflow.runName='{tag_name}')."
        )
    name = _run_name(request.run_name or tag_name or generate_job_name())
    tags.setdefault(MLFLOW_RUN_NAME, name)
    started = from_ms(request.start_time) if request.start_time else timezone.now()
    with transaction.atomic():
        job = Job.objects.create(
            workspace=call.workspace,
            name=uuid.uuid4().hex,
            display_name=name,
            type=RUN_TYPE,
            experiment=experiment,
            status=JobStatus.RUNNING,
            tags=tags,
            properties={USER_ID_PROPERTY: request.user_id} if request.user_id else {},
            created_by=call.user,
            started_at=started,
            parent=_parent_run(call, tags.get(MLFLOW_PARENT_RUN_ID)),
        )
        JobStatusEvent.objects.create(job=job, status=JobStatus.RUNNING, message="Started by the MLflow client.")
    return {"run": run_dict(job)}


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get(call: Call) -> dict:
    return {"run": run_dict(get_run(call))}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def update(call: Call) -> dict:
    request = read_message(call, UpdateRun())
    run_id = request.run_id or request.run_uuid or run_id_of(call)
    with transaction.atomic():
        job = _locked(get_run_for_write(call, run_id))
        fields = []
        if request.HasField("run_name") and request.run_name:
            job.display_name = _run_name(request.run_name)
            job.tags = {**(job.tags or {}), MLFLOW_RUN_NAME: request.run_name}
            fields += ["display_name", "tags"]
        if job.type == RUN_TYPE:
            _update_client_run(job, request)
            fields += ["status", "ended_at"]
        if fields:
            job.save(update_fields=fields)
    return {"run_info": run_info_dict(job)}


def _update_client_run(job: Job, request: UpdateRun) -> None:
    """Status and end time of a run the client created: a terminal status ends it, RUNNING
    (resuming a run with `start_run(run_id=...)`) reopens it."""
    if request.HasField("status"):
        status = JOB_STATUS[RunStatus.to_string(request.status)]
        _set_status(job, status, "Set by the MLflow client.")
        if status in (JobStatus.RUNNING, JobStatus.NOT_STARTED):
            job.ended_at = None
    if request.HasField("end_time") and job.status not in (JobStatus.RUNNING, JobStatus.NOT_STARTED):
        job.ended_at = from_ms(request.end_time)


def _set_lifecycle(call: Call, stage: str) -> dict:
    job = check_run_writable(call, get_run(call))
    job.lifecycle_stage = stage
    job.save(update_fields=["lifecycle_stage"])
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def delete(call: Call) -> dict:
    return _set_lifecycle(call, LifecycleStage.DELETED)


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def restore(call: Call) -> dict:
    return _set_lifecycle(call, LifecycleStage.ACTIVE)


# ---- params and tags ----


def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise invalid(f"'{name}' must be a string.")
    return value


def apply_params(job: Job, params: list[Param]) -> None:
    """Add params to a (locked) run; re-logging a key with another value is refused, as in MLflow."""
    stored = dict(job.params or {})
    changed = [
        {"key": p.key, "old_value": str(stored[p.key]), "new_value": p.value}
        for p in params
        if p.key in stored and str(stored[p.key]) != p.value
    ]
    if changed:
        raise invalid(
            f"Changing param values is not allowed. Params were already logged='{changed}' for run ID='{job.name}'."
        )
    job.params = {**stored, **{p.key: p.value for p in params}}


def _check_lengths(*, params=(), tags=()) -> None:
    """A param or tag value over MLflow's limit is cut to it, as MLflow's server does while
    MLFLOW_TRUNCATE_LONG_VALUES is on (the default); with it off, it is refused naming its key."""
    if MLFLOW_TRUNCATE_LONG_VALUES.get():
        return
    for param in params:
        check_value_length("param", param.key, param.value, MAX_PARAM_VAL_LENGTH)
    for tag in tags:
        check_value_length("tag", tag.key, tag.value, MAX_TAG_VAL_LENGTH)


def apply_tags(job: Job, tags: list[RunTag]) -> None:
    """Set tags on a (locked) run; `mlflow.runName` renames it too."""
    job.tags = {**(job.tags or {}), **{t.key: t.value for t in tags}}
    for tag in tags:
        if tag.key == MLFLOW_RUN_NAME:
            job.display_name = _run_name(tag.value)


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def log_parameter(call: Call) -> dict:
    param = Param(_text(call.require("key"), "key"), _text(call.get("value", ""), "value"))
    _check_lengths(params=[param])
    param = _validate_param(param.key, param.value)
    with transaction.atomic():
        job = _locked(get_run_for_write(call))
        apply_params(job, [param])
        job.save(update_fields=["params"])
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def set_tag(call: Call) -> dict:
    tag = RunTag(_text(call.require("key"), "key"), _text(call.get("value", ""), "value"))
    _check_lengths(tags=[tag])
    tag = _validate_tag(tag.key, tag.value)
    with transaction.atomic():
        job = _locked(get_run_for_write(call))
        apply_tags(job, [tag])
        job.save(update_fields=["tags", "display_name"])
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def delete_tag(call: Call) -> dict:
    key = _text(call.require("key"), "key")
    with transaction.atomic():
        job = _locked(get_run_for_write(call))
        tags = dict(job.tags or {})
        if key not in tags:
            raise not_found(f"No tag with name: {key[:250]} in run with id {job.name}")
        del tags[key]
        job.tags = tags
        job.save(update_fields=["tags"])
    return {}


# ---- log-batch ----


def _require_keys(items: list, path: str, keys: tuple) -> None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"'{path}[{index}]' must be an object.")
        for key in keys:
            if item.get(key) in (None, ""):
                raise invalid(f"Missing value for required parameter '{path}[{index}].{key}'.")


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE, hot=True)
def log_batch(call: Call) -> dict:
    """Metrics, params and tags in one transaction: a bad item leaves the run untouched."""
    from .metrics import record_metrics

    _validate_batch_log_api_req(call.request.body)
    raw_metrics, raw_params, raw_tags = call.get_list("metrics"), call.get_list("params"), call.get_list("tags")
    _validate_batch_log_limits(raw_metrics, raw_params, raw_tags)
    _require_keys(raw_metrics, "metrics", ("key", "value", "timestamp"))
    _require_keys(raw_params, "params", ("key",))
    _require_keys(raw_tags, "tags", ("key",))
    # Metrics are checked and written by record_metrics, without a detour through protobuf.
    request = read_message(call, LogBatch(), exclude=("metrics",))
    params = [Param.from_proto(p) for p in request.params]
    tags = [RunTag.from_proto(t) for t in request.tags]
    _check_lengths(params=params, tags=tags)
    _, params, tags = _validate_batch_log_data([], params, tags)
    _validate_param_keys_unique(params)
    with transaction.atomic():
        job = get_run_for_write(call, request.run_id or run_id_of(call))
        if params or tags:
            job = _locked(job)
            apply_params(job, params)
            apply_tags(job, tags)
            job.save(update_fields=["params", "tags", "display_name"])
        record_metrics(job, raw_metrics)
    return {}


# ---- inputs and outputs ----


def _dataset(experiment: Experiment, dataset) -> Dataset:
    row, _ = Dataset.objects.get_or_create(
        experiment=experiment,
        name=dataset.name,
        digest=dataset.digest,
        defaults={
            "source_type": dataset.source_type,
            "source": dataset.source,
            "schema": dataset.schema or "",
            "profile": dataset.profile or "",
        },
    )
    return row


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def log_inputs(call: Call) -> dict:
    """Datasets (by name and digest within the experiment) and logged models the run used."""
    request = read_message(call, LogInputs())
    datasets = [DatasetInput.from_proto(d) for d in request.datasets]
    _validate_dataset_inputs(datasets)
    for index, dataset_input in enumerate(datasets):
        for field in ("name", "digest", "source_type", "source"):
            if not getattr(dataset_input.dataset, field):
                raise invalid(f"Missing value for required parameter 'datasets[{index}].dataset.{field}'.")
    model_ids = [_model_id(m.model_id) for m in request.models]
    with transaction.atomic():
        job = _locked(get_run_for_write(call, request.run_id or run_id_of(call)))
        for dataset_input in datasets:
            dataset = _dataset(job.experiment, dataset_input.dataset)
            RunInput.objects.get_or_create(
                job=job, dataset=dataset, defaults={"tags": {t.key: t.value for t in dataset_input.tags}}
            )
        if model_ids:
            known = list((job.properties or {}).get(MODEL_INPUTS_PROPERTY, []))
            job.properties = {
                **(job.properties or {}),
                MODEL_INPUTS_PROPERTY: known + [m for m in model_ids if m not in known],
            }
            job.save(update_fields=["properties"])
    return {}


def _model_id(value: str) -> str:
    if not value or len(value) > MAX_MODEL_ID_LENGTH:
        raise invalid(f"A model id is a non-empty string of at most {MAX_MODEL_ID_LENGTH} characters.")
    return value


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def outputs(call: Call) -> dict:
    """`log_outputs`: the logged models the run produced, with the step they were logged at."""
    request = read_message(call, LogOutputs())
    models = [(_model_id(m.model_id), m.step) for m in request.models]
    with transaction.atomic():
        job = get_run_for_write(call, request.run_id or run_id_of(call))
        for model_id, step in models:
            RunOutput.objects.update_or_create(job=job, model_id=model_id, defaults={"step": step})
    return {}


# ---- search ----


@endpoint(methods=("POST", "GET"), perm=Perm.DATA_READ)
def search(call: Call) -> dict:
    request = read_message(call, SearchRuns())
    experiment_ids = list(request.experiment_ids)
    if call.access.job:  # a job's token sees its own experiment's runs
        experiment_ids = [e for e in experiment_ids if str(e) == str(call.access.job_experiment_id)]
    runs, token = search_runs(
        workspace=call.workspace,
        experiment_ids=experiment_ids,
        view_type=request.run_view_type if request.HasField("run_view_type") else ViewType.ACTIVE_ONLY,
        max_results=request.max_results if request.HasField("max_results") else None,
        filter_string=request.filter,
        order_by=list(request.order_by),
        page_token=request.page_token,
    )
    response = {"runs": [run_dict(run) for run in runs]}
    if token:
        response["next_page_token"] = token
    return response


ROUTES = [
    ("runs/create", create),
    ("runs/get", get),
    ("runs/update", update),
    ("runs/delete", delete),
    ("runs/restore", restore),
    ("runs/set-tag", set_tag),
    ("runs/delete-tag", delete_tag),
    ("runs/log-parameter", log_parameter),
    ("runs/log-batch", log_batch),
    ("runs/log-inputs", log_inputs),
    ("runs/outputs", outputs),
    ("runs/search", search),
]

"""MLflow endpoints: runs. A run is a Job.

`runs/create` makes a Job of type "run" (no compute, no code): it shows in the Jobs list of its
experiment with the status the client reports. A studio job (type "command") is also a run: the
code inside it logs to it through MLFLOW_RUN_ID, but only the studio ends it, so a status the
client sends for it is ignored.
"""

from django.utils import timezone
from mlflow.entities import DatasetInput, Param, RunStatus, RunTag, ViewType
from mlflow.environment_variables import MLFLOW_TRUNCATE_LONG_VALUES
from mlflow.protos.service_pb2 import CreateRun, LogBatch, LogInputs, LogOutputs, SearchRuns, UpdateRun

from jobs.models import Experiment, LifecycleStage
from jobs.names import generate_job_name
from workspaces.roles import Perm

from . import services, validation
from .http import Call, check_value_length, endpoint, invalid
from .models import RunOutput
from .search import search_runs
from .selectors import check_run_writable, get_experiment, get_run, get_run_for_write, parent_run, run_id_of
from .serialize import (
    JOB_STATUS,
    USER_ID_PROPERTY,
    from_ms,
    read_message,
    run_dict,
    run_info_dict,
)

MLFLOW_RUN_NAME = services.MLFLOW_RUN_NAME
MLFLOW_PARENT_RUN_ID = "mlflow.parentRunId"
MAX_MODEL_ID_LENGTH = RunOutput._meta.get_field("model_id").max_length


# ---- create, get, update, delete ----


def _active_experiment(call: Call, experiment_id) -> Experiment:
    experiment = get_experiment(call, experiment_id or "0")
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(
            f"The experiment {experiment.pk} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    return experiment


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def create(call: Call) -> dict:
    request = read_message(call, CreateRun())
    experiment = _active_experiment(call, request.experiment_id)
    tags = {}
    _check_lengths(tags=request.tags)
    for index, tag in enumerate(request.tags):
        checked = validation.tag(tag.key, tag.value, path=f"tags[{index}]")
        tags[checked.key] = checked.value
    tag_name = tags.get(MLFLOW_RUN_NAME)
    if request.run_name and tag_name and request.run_name != tag_name:
        raise invalid(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
            f"(run_name='{request.run_name}', mlflow.runName='{tag_name}')."
        )
    job = services.run_create(
        workspace=call.workspace,
        experiment=experiment,
        user=call.user,
        display_name=services.run_name(request.run_name or tag_name or generate_job_name()),
        tags=tags,
        properties={USER_ID_PROPERTY: request.user_id} if request.user_id else {},
        started_at=from_ms(request.start_time) if request.start_time else timezone.now(),
        parent=parent_run(call, tags.get(MLFLOW_PARENT_RUN_ID)),
    )
    return {"run": run_dict(job)}


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get(call: Call) -> dict:
    return {"run": run_dict(get_run(call))}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def update(call: Call) -> dict:
    request = read_message(call, UpdateRun())
    run_id = request.run_id or request.run_uuid or run_id_of(call)
    job = services.run_update(
        job=get_run_for_write(call, run_id),
        display_name=request.run_name if request.HasField("run_name") else None,
        status=JOB_STATUS[RunStatus.to_string(request.status)] if request.HasField("status") else None,
        ended_at=from_ms(request.end_time) if request.HasField("end_time") else None,
    )
    return {"run_info": run_info_dict(job)}


def _set_lifecycle(call: Call, stage: str) -> dict:
    services.run_set_lifecycle(job=check_run_writable(call, get_run(call)), stage=stage)
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


def _check_lengths(*, params=(), tags=()) -> None:
    """A param or tag value over MLflow's limit is cut to it, as MLflow's server does while
    MLFLOW_TRUNCATE_LONG_VALUES is on (the default); with it off, it is refused naming its key."""
    if MLFLOW_TRUNCATE_LONG_VALUES.get():
        return
    for param in params:
        check_value_length("param", param.key, param.value, validation.MAX_PARAM_VAL_LENGTH)
    for tag in tags:
        check_value_length("tag", tag.key, tag.value, validation.MAX_TAG_VAL_LENGTH)


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def log_parameter(call: Call) -> dict:
    param = Param(_text(call.require("key"), "key"), _text(call.get("value", ""), "value"))
    _check_lengths(params=[param])
    services.run_log(job=get_run_for_write(call), params=[validation.param(param.key, param.value)])
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def set_tag(call: Call) -> dict:
    tag = RunTag(_text(call.require("key"), "key"), _text(call.get("value", ""), "value"))
    _check_lengths(tags=[tag])
    services.run_log(job=get_run_for_write(call), tags=[validation.tag(tag.key, tag.value)])
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def delete_tag(call: Call) -> dict:
    key = _text(call.require("key"), "key")
    services.run_delete_tag(job=get_run_for_write(call), key=key)
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
    raw_metrics, raw_params, raw_tags = call.get_list("metrics"), call.get_list("params"), call.get_list("tags")
    validation.batch_limits(call.request.body, raw_metrics, raw_params, raw_tags)
    _require_keys(raw_metrics, "metrics", ("key", "value", "timestamp"))
    _require_keys(raw_params, "params", ("key",))
    _require_keys(raw_tags, "tags", ("key",))
    # Metrics are checked and written by services.metrics_record, without a detour through protobuf.
    request = read_message(call, LogBatch(), exclude=("metrics",))
    params = [Param.from_proto(p) for p in request.params]
    tags = [RunTag.from_proto(t) for t in request.tags]
    _check_lengths(params=params, tags=tags)
    params, tags = validation.params_and_tags(params, tags)
    job = get_run_for_write(call, request.run_id or run_id_of(call))
    services.run_log(job=job, params=params, tags=tags, metrics=raw_metrics)
    return {}


# ---- inputs and outputs ----


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def log_inputs(call: Call) -> dict:
    """Datasets (by name and digest within the experiment) and logged models the run used."""
    request = read_message(call, LogInputs())
    datasets = [DatasetInput.from_proto(d) for d in request.datasets]
    validation.dataset_inputs(datasets)
    for index, dataset_input in enumerate(datasets):
        for field in ("name", "digest", "source_type", "source"):
            if not getattr(dataset_input.dataset, field):
                raise invalid(f"Missing value for required parameter 'datasets[{index}].dataset.{field}'.")
    model_ids = [_model_id(m.model_id) for m in request.models]
    job = get_run_for_write(call, request.run_id or run_id_of(call))
    services.run_log_inputs(job=job, datasets=datasets, model_ids=model_ids)
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
    job = get_run_for_write(call, request.run_id or run_id_of(call))
    services.run_log_outputs(job=job, models=models)
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

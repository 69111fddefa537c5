"""MLflow 3's logged models, `/api/2.0/mlflow/logged-models/...`: what `mlflow.<flavor>.log_model` creates.

    POST   logged-models                        create (PENDING); the client then uploads its files
    GET    logged-models/<id>                   get (`allow_deleted=true` also finds deleted ones)
    PATCH  logged-models/<id>                   finalize: READY, or FAILED
    DELETE logged-models/<id>                   delete (the row stays, marked deleted, as in MLflow)
    PATCH  logged-models/<id>/tags              set tags
    DELETE logged-models/<id>/tags/<key>        delete a tag
    POST   logged-models/<id>/params            log params
    POST   logged-models/search                 search experiments' models with MLflow's filter syntax

Requests are parsed into service.proto's messages and answers written from them, with MLflow's
own entity (`LoggedModel.to_proto`), so the JSON is exactly what MLflow's server sends. Searching
uses MLflow's own filter, ordering and paging (`SearchLoggedModelsUtils`) over the workspace's rows.
A model's metrics are the `Metric` rows logged with its `model_id`: the latest of each key per dataset.

Where a model's files go is `locations.logged_model_artifact_uri`: below its source run's
`outputs/models/<model id>` (shown in the job's Outputs tab), else below its experiment.
"""

import json

from google.protobuf.json_format import ParseDict, ParseError
from mlflow.entities import LoggedModel as MlflowLoggedModel
from mlflow.entities import LoggedModelStatus as MlflowStatus
from mlflow.entities import Metric as MlflowMetric
from mlflow.protos import service_pb2
from mlflow.utils.proto_json_utils import message_to_json
from mlflow.utils.search_utils import SearchLoggedModelsUtils

from jobs.models import Experiment, LifecycleStage
from jobs.names import generate_job_name
from workspaces.roles import Perm

from . import services, validation
from .http import Call, by_method, endpoint, invalid, not_found
from .models import LoggedModel, LoggedModelStatus, Metric
from .search import MAX_ORDER_BY, check_filter, page_offset
from .selectors import default_experiment, get_experiment, get_run

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE_LENGTH = validation.MAX_TAG_VAL_LENGTH
MAX_NAME_LENGTH = 500
MAX_ITEMS_PER_REQUEST = 1000
MAX_SEARCH_RESULTS = 1000
DEFAULT_SEARCH_RESULTS = 100  # as MLflow's server
MAX_SEARCH_EXPERIMENTS = 100

FINAL_STATUSES = {MlflowStatus.READY: LoggedModelStatus.READY, MlflowStatus.FAILED: LoggedModelStatus.FAILED}


def _message(call: Call, message):
    """The call's JSON body as a service.proto message; a field of the wrong type is invalid."""
    try:
        ParseDict(call.body, message, ignore_unknown_fields=True)
    except (ParseError, TypeError, ValueError) as exc:
        raise invalid(f"The request body does not fit {type(message).__name__}: {str(exc)[:300]}") from None
    return message


def _answer(message) -> dict:
    return json.loads(message_to_json(message))


def _key_values(items, *, what: str, max_value: int) -> dict[str, str]:
    """[{key, value}] (tags or params) -> {key: value}, each key and value checked."""
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise invalid(f"At most {MAX_ITEMS_PER_REQUEST} {what}s may be sent at once, not {len(items)}.")
    result = {}
    for item in items:
        key, value = item.key, item.value
        if not key or len(key) > MAX_KEY_LENGTH:
            raise invalid(f"A {what} key must be 1 to {MAX_KEY_LENGTH} characters long (got {key[:100]!r}).")
        if "\x00" in key or "\x00" in value:
            raise invalid(f"The {what} {key[:100]!r} contains a NUL character.")
        if len(value) > max_value:
            raise invalid(f"The value of the {what} {key[:100]!r} is longer than {max_value} characters.")
        result[key] = value
    return result


def _model_id(value) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise not_found(f"Logged model with ID {str(value)[:100]!r} not found.")
    return value


def get_logged_model(call: Call, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
    """The workspace's logged model with this id, or RESOURCE_DOES_NOT_EXIST."""
    models = LoggedModel.objects.filter(workspace=call.workspace, model_id=_model_id(model_id))
    if not allow_deleted:
        models = models.exclude(lifecycle_stage=LifecycleStage.DELETED)
    model = models.select_related("source_run").first()
    if model is None:
        raise not_found(f"Logged model with ID '{model_id[:100]}' not found.")
    return model


def _metrics_by_model(models: list[LoggedModel]) -> dict[str, list[MlflowMetric]]:
    """model_id -> the latest metric of each (key, dataset), by step, then timestamp, then value."""
    ids = [m.model_id for m in models]
    if not ids:
        return {}

    def rank(row: Metric) -> tuple:
        return row.step, row.timestamp, float("-inf") if row.value is None else row.value

    latest: dict[tuple, Metric] = {}
    rows = Metric.objects.filter(job__workspace_id=models[0].workspace_id, model_id__in=ids).select_related("job")
    for row in rows:
        group = (row.model_id, row.key, row.dataset_name, row.dataset_digest)
        if group not in latest or rank(row) > rank(latest[group]):
            latest[group] = row
    result: dict[str, list[MlflowMetric]] = {model_id: [] for model_id in ids}
    for (model_id, *_), row in sorted(latest.items(), key=lambda item: item[0]):
        result[model_id].append(
            MlflowMetric(
                key=row.key,
                value=float("nan") if row.value is None else row.value,
                timestamp=row.timestamp,
                step=row.step,
                model_id=model_id,
                dataset_name=row.dataset_name or None,
                dataset_digest=row.dataset_digest or None,
                run_id=row.job.name,
            )
        )
    return result


def to_entity(model: LoggedModel, metrics: list[MlflowMetric] | None = None) -> MlflowLoggedModel:
    """The MLflow entity of a logged model, as MLflow's stores return it."""
    if metrics is None:
        metrics = _metrics_by_model([model])[model.model_id]
    return MlflowLoggedModel(
        experiment_id=str(model.experiment_id),
        model_id=model.model_id,
        name=model.name,
        artifact_location=model.artifact_location,
        creation_timestamp=model.creation_timestamp,
        last_updated_timestamp=model.last_updated_timestamp,
        model_type=model.model_type or None,
        source_run_id=model.source_run.name if model.source_run_id else None,
        status=MlflowStatus(model.status),
        status_message=model.status_message or None,
        tags=dict(model.tags or {}),
        params=dict(model.params or {}),
        metrics=metrics,
    )


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def create_logged_model(call: Call):
    """A new PENDING model in the experiment, with its files' location chosen by the studio."""
    request = _message(call, service_pb2.CreateLoggedModel())
    if not request.experiment_id:
        raise invalid("Missing value for required parameter 'experiment_id'.")
    experiment = get_experiment(call, request.experiment_id)
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(f"The experiment {experiment.pk} must be in the 'active' state.")
    name = request.name or None
    validation.logged_model_name(name)
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise invalid(f"A model name must be at most {MAX_NAME_LENGTH} characters long.")
    if len(request.model_type) > MAX_NAME_LENGTH:
        raise invalid(f"'model_type' must be at most {MAX_NAME_LENGTH} characters long.")
    run = get_run(call, request.source_run_id) if request.source_run_id else None
    params = _key_values(request.params, what="param", max_value=MAX_PARAM_VALUE_LENGTH)
    tags = _key_values(request.tags, what="tag", max_value=MAX_TAG_VALUE_LENGTH)
    model = services.logged_model_create(
        workspace=call.workspace,
        experiment=experiment,
        name=name or generate_job_name(),
        run=run,
        model_type=request.model_type,
        tags=tags,
        params=params,
    )
    return _answer(service_pb2.CreateLoggedModel.Response(model=to_entity(model, []).to_proto()))


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def read_logged_model(call: Call, model_id: str):
    allow_deleted = str(call.get("allow_deleted", "false")).lower() == "true"
    model = get_logged_model(call, model_id, allow_deleted=allow_deleted)
    return _answer(service_pb2.GetLoggedModel.Response(model=to_entity(model).to_proto()))


@endpoint(methods=("PATCH",), perm=Perm.DATA_WRITE)
def finalize_logged_model(call: Call, model_id: str):
    """Set the model's final status (READY or FAILED)."""
    request = _message(call, service_pb2.FinalizeLoggedModel())
    status = MlflowStatus.from_int(request.status) if request.HasField("status") else None
    if status not in FINAL_STATUSES:
        raise invalid("'status' must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.")
    model = services.logged_model_update(model=get_logged_model(call, model_id), status=FINAL_STATUSES[status])
    return _answer(service_pb2.FinalizeLoggedModel.Response(model=to_entity(model).to_proto()))


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE)
def delete_logged_model(call: Call, model_id: str):
    """Mark the model deleted; its files stay where they are."""
    services.logged_model_update(model=get_logged_model(call, model_id), lifecycle_stage=LifecycleStage.DELETED)
    return {}


@endpoint(methods=("PATCH",), perm=Perm.DATA_WRITE)
def set_logged_model_tags(call: Call, model_id: str):
    request = _message(call, service_pb2.SetLoggedModelTags())
    tags = _key_values(request.tags, what="tag", max_value=MAX_TAG_VALUE_LENGTH)
    model = get_logged_model(call, model_id)
    services.logged_model_update(model=model, tags={**(model.tags or {}), **tags})
    return {}


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE)
def delete_logged_model_tag(call: Call, model_id: str, tag_key: str):
    model = get_logged_model(call, model_id)
    tags = dict(model.tags or {})
    if tag_key not in tags:
        raise not_found(f"No tag with key {tag_key[:100]!r} found for model with ID '{model.model_id}'.")
    del tags[tag_key]
    services.logged_model_update(model=model, tags=tags)
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def log_logged_model_params(call: Call, model_id: str):
    request = _message(call, service_pb2.LogLoggedModelParamsRequest())
    params = _key_values(request.params, what="param", max_value=MAX_PARAM_VALUE_LENGTH)
    model = get_logged_model(call, model_id)
    services.logged_model_update(model=model, params={**(model.params or {}), **params})
    return {}


def _experiments(call: Call, experiment_ids) -> list[Experiment]:
    """The workspace's experiments with these ids ("0" is the Default experiment); others are skipped."""
    if not experiment_ids:
        raise invalid("Missing value for required parameter 'experiment_ids'.")
    if len(experiment_ids) > MAX_SEARCH_EXPERIMENTS:
        raise invalid(f"At most {MAX_SEARCH_EXPERIMENTS} experiment ids may be searched at once.")
    pks = {int(e) for e in experiment_ids if e.isdigit() and e != "0" and len(e) <= 18}
    experiments = list(Experiment.objects.filter(workspace=call.workspace, pk__in=pks))
    if "0" in experiment_ids:
        experiments.append(default_experiment(call.workspace))
    if call.access.job:  # a job's token sees its own experiment only
        experiments = [e for e in experiments if e.pk == call.access.job_experiment_id]
    return experiments


@endpoint(methods=("POST",), perm=Perm.DATA_READ)
def search_logged_models(call: Call):
    """Models of the experiments matching `filter`, in `order_by` order, a page at a time."""
    request = _message(call, service_pb2.SearchLoggedModels())
    max_results = request.max_results if request.HasField("max_results") else DEFAULT_SEARCH_RESULTS
    if not 0 < max_results <= MAX_SEARCH_RESULTS:
        raise invalid(f"'max_results' must be between 1 and {MAX_SEARCH_RESULTS}, not {max_results}.")
    check_filter(request.filter)
    page_offset(request.page_token)
    if len(request.order_by) > MAX_ORDER_BY:
        raise invalid(f"'order_by' may have at most {MAX_ORDER_BY} clauses, not {len(request.order_by)}.")
    datasets = [
        {"dataset_name": d.dataset_name, "dataset_digest": d.dataset_digest or None} for d in request.datasets
    ] or None
    if datasets and not all(d["dataset_name"] for d in datasets):
        raise invalid("`dataset_name` in the `datasets` clause must be specified.")
    order_by = [
        {
            "field_name": o.field_name,
            "ascending": o.ascending if o.HasField("ascending") else True,
            "dataset_name": o.dataset_name or None,
            "dataset_digest": o.dataset_digest or None,
        }
        for o in request.order_by
    ] or None
    experiments = _experiments(call, list(request.experiment_ids))
    rows = list(
        LoggedModel.objects.filter(workspace=call.workspace, experiment__in=experiments)
        .exclude(lifecycle_stage=LifecycleStage.DELETED)
        .select_related("source_run")
    )
    metrics = _metrics_by_model(rows)
    entities = [to_entity(row, metrics[row.model_id]) for row in rows]
    try:
        matching = SearchLoggedModelsUtils.filter_logged_models(entities, request.filter or None, datasets)
        ordered = SearchLoggedModelsUtils.sort(matching, order_by)
        page, token = SearchLoggedModelsUtils.paginate(ordered, request.page_token or None, max_results)
    except (ValueError, TypeError, KeyError) as exc:
        raise invalid(f"The search could not be run: {str(exc)[:300]}") from None
    response = service_pb2.SearchLoggedModels.Response()
    response.models.extend([model.to_proto() for model in page])
    if token:
        response.next_page_token = token
    return _answer(response)


ROUTES = [
    ("logged-models", create_logged_model),
    ("logged-models/search", search_logged_models),
    (
        "logged-models/<str:model_id>",
        by_method(GET=read_logged_model, PATCH=finalize_logged_model, DELETE=delete_logged_model),
    ),
    ("logged-models/<str:model_id>/tags", set_logged_model_tags),
    ("logged-models/<str:model_id>/tags/<path:tag_key>", delete_logged_model_tag),
    ("logged-models/<str:model_id>/params", log_logged_model_params),
]

"""Every read the tracking server makes: finding runs and experiments for an MLflow call, scoped to the call's workspace, and for a job's
own token (MLFLOW_TRACKING_TOKEN) to the job's experiment: it reads the runs of its experiment and
writes only its own run and the runs it started (nested runs are children of its run)."""

import base64
import binascii
import json

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

from jobs.models import Experiment, Job, LifecycleStage
from jobs.selectors import started_by_the_job

from .http import Call, invalid, not_found
from .models import Metric

MAX_ID_LENGTH = 256
HISTORY_COLUMNS = ("id", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")


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


def parent_run(call: Call, parent_run_id) -> Job | None:
    """A nested run (`start_run(nested=True)`) is a child job of its parent run, as in Azure ML. A run
    a job's token starts is a run of the job's: its child when it names no parent."""
    if not parent_run_id:
        return Job.objects.filter(pk=call.access.job_id).first() if call.access.job else None
    parent = Job.objects.filter(workspace=call.workspace, name=parent_run_id).first()
    if parent is not None:
        check_run_writable(call, parent)
    return parent


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


def experiment_by_name(workspace, name) -> Experiment | None:
    return Experiment.objects.filter(workspace=workspace, name=name).first()


def default_experiment(workspace) -> Experiment:
    experiment, _ = Experiment.objects.get_or_create(workspace=workspace, name="Default")
    return experiment


# --- metrics -----------------------------------------------------------------------------


def page_token_after(*, step: int, timestamp: int, row_id: int) -> str:
    """The token of the page after this point (keyset paging on step, timestamp, id)."""
    return base64.urlsafe_b64encode(json.dumps([step, timestamp, row_id]).encode()).decode()


def _after_token(token: str) -> Q:
    """The rows after a page token's (step, timestamp, id): keyset paging, so a page costs the
    same however deep into a long history it is."""
    try:
        step, timestamp, row_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (step, timestamp, row_id)):
            raise ValueError
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise invalid("Invalid page token.") from None
    return Q(step__gt=step) | Q(step=step, timestamp__gt=timestamp) | Q(step=step, timestamp=timestamp, id__gt=row_id)


def history_rows(job, key: str, *, limit: int | None = None, page_token: str | None = None) -> list[tuple]:
    """The points of one metric ordered by step, then timestamp (then logging order), as rows of
    HISTORY_COLUMNS."""
    return _fetch(_history(job, key, page_token).values_list(*HISTORY_COLUMNS), limit)


# A double beyond this is +-inf.
MAX_DOUBLE = 1.7976931348623157e308
# A point the fast JSON path cannot write as a plain number with no extra fields.
SPECIAL_POINT = (
    Q(value__isnull=True)
    | Q(value__gt=MAX_DOUBLE)
    | Q(value__lt=-MAX_DOUBLE)
    | ~Q(model_id="")
    | ~Q(dataset_name="")
    | ~Q(dataset_digest="")
)


def history_page(job, key: str, *, limit: int | None = None, page_token: str | None = None) -> list[tuple]:
    """As history_rows, but lighter rows of (value, timestamp, step, id, special), where `special`
    marks a point that is NaN, infinite or has a model or dataset (see SPECIAL_POINT)."""
    rows = _history(job, key, page_token).annotate(special=ExpressionWrapper(SPECIAL_POINT, BooleanField()))
    return _fetch(rows.values_list("value", "timestamp", "step", "id", "special"), limit)


def _history(job, key: str, page_token: str | None):
    rows = Metric.objects.filter(job=job, key=key)
    if page_token:
        rows = rows.filter(_after_token(page_token))
    return rows.order_by("step", "timestamp", "id")


def _fetch(rows, limit: int | None) -> list[tuple]:
    if limit is not None:
        rows = rows[:limit]
    # The ORM writes the query; the rows are fetched in one go (tens of thousands per page), as
    # plain tuples.
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def run_state(workspace_id: int, run_id: str) -> tuple | None:
    """(pk, lifecycle_stage, parent pk) of the workspace's run, in one plain query (the hot path's lookup)."""
    q = connection.ops.quote_name
    sql = (
        f"SELECT {q('id')}, {q('lifecycle_stage')}, {q('parent_id')} FROM {q(Job._meta.db_table)} "  # noqa: S608
        f"WHERE {q('workspace_id')} = %s AND {q('name')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace_id, run_id])
        return cursor.fetchone()


def sampled_rows(job, key: str, max_results: int, start_step=None, end_step=None) -> list[tuple]:
    """Up to `max_results` points of a metric evenly spread over its (step-ordered) history, as
    MLflow's SQL store samples them: the first point of each of `max_results` equal buckets,
    and always the last point. Rows are (value, timestamp, step)."""
    rows = Metric.objects.filter(job=job, key=key)
    if start_step is not None:
        rows = rows.filter(step__gte=start_step, step__lte=end_step)
    total = rows.count()
    if not total:
        return []
    ordered = rows.order_by("step", "timestamp", "id").values_list("value", "timestamp", "step")
    if total <= max_results:
        return list(ordered)
    # NTILE(n) over `total` rows: the first `total % n` buckets hold one row more.
    size, larger = divmod(total, max_results)
    starts = [i * size + min(i, larger) for i in range(max_results)]
    picked = set(starts[:-1]) | {total - 1} if max_results > 1 else {total - 1}
    return [row for index, row in enumerate(ordered.iterator(chunk_size=5000)) if index in picked]

"""Every write the tracking server makes: experiments, logged models, runs (jobs of type "run" the client creates, and the
params, tags, inputs and outputs of any run) and metric points with a run's latest values; keyword-
only and atomic, validating before anything is stored.

A run's params and tags are JSON on its Job row, changed under a lock on the row.

A metric value is stored as a float; NaN is stored as NULL (SQLite cannot hold NaN) and +-inf as
is. Writes are idempotent as in MLflow's SQL store, whose primary key is the whole point (key,
step, timestamp, value): an identical point logged twice (a client retry after a 5xx) is stored
once.
"""

import time
import uuid
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from mlflow.entities import DatasetInput, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST

from jobs.models import Experiment, Job, JobStatus, JobStatusEvent

from . import validation
from .locations import logged_model_artifact_uri
from .models import Dataset, LatestMetric, LoggedModel, LoggedModelStatus, Metric, RunInput, RunOutput

RUN_TYPE = "run"
MLFLOW_RUN_NAME = "mlflow.runName"
MODEL_INPUTS_PROPERTY = "mlflow.model_inputs"
RUN_NAME_MAX_LENGTH = Job._meta.get_field("display_name").max_length

# Rows per INSERT statement: 8 columns each stays far below SQLite's bound-parameter limit.
INSERT_CHUNK = 500
METRIC_COLUMNS = ("job_id", "key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")


def _order(row) -> tuple:
    """How MLflow ranks points for a run's latest value: step, then timestamp, then value, with
    NaN ranked as 0 (MLflow's SQL store stores NaN as 0 plus a flag)."""
    return (row[3], row[2], 0.0 if row[1] is None else row[1])


def _drop_stored(job_id: int, rows: list[tuple]) -> list[tuple]:
    """The rows not already stored for this run: identical (key, step, timestamp, value) points
    are one point, within the batch and against the database."""
    unique = {}
    for row in rows:
        unique.setdefault((row[0], row[3], row[2], row[1]), row)
    steps = [row[3] for row in rows]
    stamps = [row[2] for row in rows]
    keys = list({row[0] for row in rows})
    q = connection.ops.quote_name
    sql = (
        f"SELECT {q('key')}, {q('step')}, {q('timestamp')}, {q('value')} FROM {q(Metric._meta.db_table)} "  # noqa: S608
        f"WHERE {q('job_id')} = %s AND {q('key')} IN ({', '.join(['%s'] * len(keys))}) "
        f"AND {q('step')} BETWEEN %s AND %s AND {q('timestamp')} BETWEEN %s AND %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_id, *keys, min(steps), max(steps), min(stamps), max(stamps)])
        while batch := cursor.fetchmany(2000):
            for point in batch:
                unique.pop(tuple(point), None)
    return list(unique.values())


def _insert_points(job_id: int, rows: list[tuple]) -> None:
    table = connection.ops.quote_name(Metric._meta.db_table)
    columns = ", ".join(map(connection.ops.quote_name, METRIC_COLUMNS))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = [item for row in chunk for item in (job_id, *row)]
            # Only quoted model names and placeholders are interpolated; values are bound.
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608


def _upsert_latest(job_id: int, rows: list[tuple]) -> None:
    """One statement: insert each key's newest point, or replace the stored latest point when
    the new one ranks higher (step, timestamp, value; NaN ranks as 0)."""
    newest = {}
    for row in rows:
        if row[0] not in newest or _order(row) > _order(newest[row[0]]):
            newest[row[0]] = row
    q = connection.ops.quote_name
    table = q(LatestMetric._meta.db_table)
    job, key, value, stamp, step = map(q, ("job_id", "key", "value", "timestamp", "step"))
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(newest))
    # Keys in one order for every writer, as MLflow's store does against cross-batch deadlocks.
    params = [item for _, row in sorted(newest.items()) for item in (job_id, row[0], row[1], row[2], row[3])]
    sql = (
        f"INSERT INTO {table} ({job}, {key}, {value}, {stamp}, {step}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({job}, {key}) DO UPDATE SET "
        f"{value} = excluded.{value}, {stamp} = excluded.{stamp}, {step} = excluded.{step} "
        f"WHERE (excluded.{step}, excluded.{stamp}, COALESCE(excluded.{value}, 0.0)) "
        f"> ({table}.{step}, {table}.{stamp}, COALESCE({table}.{value}, 0.0))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def metrics_record(*, job_id: int, metrics: list) -> int:
    """Validate and store metric dicts (`key`, `value`, `timestamp`, `step`, and optionally
    `model_id`, `dataset_name`, `dataset_digest`) for a run, and update its latest values.

    Runs in the caller's transaction; every metric is validated before anything is written, so
    a bad one leaves the run untouched. Returns how many new points were stored.
    """
    known_keys = set()
    return metric_rows_store(job_id=job_id, rows=[validation.clean_metric(raw, known_keys) for raw in metrics])


def metric_rows_store(*, job_id: int, rows: list[tuple]) -> int:
    """Store checked rows (validation.clean_metric's tuples) under a lock on the run's row: writers
    into one run take turns, so a retried batch racing its first attempt is stored once, two
    batches can't deadlock on the latest values, and points become visible in id order (what live
    charts poll by). SQLite's write transactions (BEGIN IMMEDIATE) already take turns for the
    whole database, so there the lock costs no query. Returns how many new points were stored."""
    if not rows:
        return 0
    with transaction.atomic(savepoint=False):
        _lock_run(job_id)
        rows = _drop_stored(job_id, rows)
        if not rows:
            return 0
        _insert_points(job_id, rows)
        _upsert_latest(job_id, rows)
    return len(rows)


def _lock_run(job_id: int) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["OPTIONS"].get("transaction_mode") == "IMMEDIATE":
        return
    Job.objects.select_for_update(no_key=True).filter(pk=job_id).values_list("pk", flat=True).get()


# --- runs ---------------------------------------------------------------------------------


def _invalid(message: str) -> MlflowException:
    return MlflowException(message, INVALID_PARAMETER_VALUE)


def run_name(value: str) -> str:
    if len(value) > RUN_NAME_MAX_LENGTH:
        raise _invalid(f"A run name is at most {RUN_NAME_MAX_LENGTH} characters.")
    return value


def _locked(job: Job) -> Job:
    """The run row again, locked for a read-modify-write of its JSON (params, tags)."""
    return Job.objects.select_for_update().select_related("experiment").get(pk=job.pk)


def _set_status(job: Job, status: str, message: str = "") -> None:
    if job.status != status:
        job.status = status
        JobStatusEvent.objects.create(job=job, status=status, message=message)


def run_create(
    *,
    workspace,
    experiment: Experiment,
    user,
    display_name: str,
    tags: dict,
    properties: dict,
    started_at: datetime,
    parent: Job | None,
) -> Job:
    """A run the client starts: a Job of type "run" (no compute, no code), Running from now on."""
    tags = {**tags}
    tags.setdefault(MLFLOW_RUN_NAME, display_name)
    with transaction.atomic():
        job = Job.objects.create(
            workspace=workspace,
            name=uuid.uuid4().hex,
            display_name=run_name(display_name),
            type=RUN_TYPE,
            experiment=experiment,
            status=JobStatus.RUNNING,
            tags=tags,
            properties=properties,
            created_by=user,
            started_at=started_at,
            parent=parent,
        )
        JobStatusEvent.objects.create(job=job, status=JobStatus.RUNNING, message="Started by the MLflow client.")
    return job


def run_update(
    *, job: Job, display_name: str | None = None, status: str | None = None, ended_at: datetime | None = None
) -> Job:
    """Rename a run; for a run the client created also its status and end time: a terminal status
    ends it, RUNNING (resuming a run with `start_run(run_id=...)`) reopens it. A studio job's
    status is the studio's own: what the client sends for it is ignored."""
    with transaction.atomic():
        job = _locked(job)
        fields = []
        if display_name:
            job.display_name = run_name(display_name)
            job.tags = {**(job.tags or {}), MLFLOW_RUN_NAME: display_name}
            fields += ["display_name", "tags"]
        if job.type == RUN_TYPE:
            if status is not None:
                _set_status(job, status, "Set by the MLflow client.")
                if status in (JobStatus.RUNNING, JobStatus.NOT_STARTED):
                    job.ended_at = None
            if ended_at is not None and job.status not in (JobStatus.RUNNING, JobStatus.NOT_STARTED):
                job.ended_at = ended_at
            fields += ["status", "ended_at"]
        if fields:
            job.save(update_fields=fields)
    return job


def run_set_lifecycle(*, job: Job, stage: str) -> None:
    job.lifecycle_stage = stage
    job.save(update_fields=["lifecycle_stage"])


def _apply_params(job: Job, params: list[Param]) -> None:
    """Add params to a (locked) run; re-logging a key with another value is refused, as in MLflow."""
    stored = dict(job.params or {})
    changed = [
        {"key": p.key, "old_value": str(stored[p.key]), "new_value": p.value}
        for p in params
        if p.key in stored and str(stored[p.key]) != p.value
    ]
    if changed:
        raise _invalid(
            f"Changing param values is not allowed. Params were already logged='{changed}' for run ID='{job.name}'."
        )
    job.params = {**stored, **{p.key: p.value for p in params}}


def _apply_tags(job: Job, tags: list[RunTag]) -> None:
    """Set tags on a (locked) run; `mlflow.runName` renames it too."""
    job.tags = {**(job.tags or {}), **{t.key: t.value for t in tags}}
    for tag in tags:
        if tag.key == MLFLOW_RUN_NAME:
            job.display_name = run_name(tag.value)


def run_log(*, job: Job, params: list[Param] = (), tags: list[RunTag] = (), metrics: list = ()) -> None:
    """Params, tags and metric dicts (see metrics_record) in one transaction: a bad item leaves the
    run untouched."""
    with transaction.atomic():
        if params or tags:
            job = _locked(job)
            _apply_params(job, list(params))
            _apply_tags(job, list(tags))
            job.save(update_fields=["params", "tags", "display_name"])
        if metrics:
            metrics_record(job_id=job.pk, metrics=list(metrics))


def run_delete_tag(*, job: Job, key: str) -> None:
    with transaction.atomic():
        job = _locked(job)
        tags = dict(job.tags or {})
        if key not in tags:
            raise MlflowException(f"No tag with name: {key[:250]} in run with id {job.name}", RESOURCE_DOES_NOT_EXIST)
        del tags[key]
        job.tags = tags
        job.save(update_fields=["tags"])


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


def run_log_inputs(*, job: Job, datasets: list[DatasetInput], model_ids: list[str]) -> None:
    """Datasets (by name and digest within the experiment) and logged models the run used."""
    with transaction.atomic():
        job = _locked(job)
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


def run_log_outputs(*, job: Job, models: list[tuple[str, int]]) -> None:
    """The logged models (model id, step) the run produced."""
    with transaction.atomic():
        for model_id, step in models:
            RunOutput.objects.update_or_create(job=job, model_id=model_id, defaults={"step": step})


# --- experiments --------------------------------------------------------------------------


def _already_exists(name: str) -> MlflowException:
    return MlflowException(f"Experiment(name={name}) already exists.", RESOURCE_ALREADY_EXISTS)


def experiment_create(*, workspace, name: str, artifact_location: str, tags: dict) -> Experiment:
    try:
        with transaction.atomic():
            return Experiment.objects.create(
                workspace=workspace, name=name, artifact_location=artifact_location, tags=tags
            )
    except IntegrityError:
        raise _already_exists(name) from None


def experiment_rename(*, experiment: Experiment, name: str) -> None:
    experiment.name = name
    try:
        with transaction.atomic():
            experiment.save(update_fields=["name", "updated_at"])
    except IntegrityError:
        raise _already_exists(name) from None


def experiment_set_lifecycle(*, experiment: Experiment, stage: str) -> None:
    """An experiment and its runs are deleted and restored together, as in MLflow's stores."""
    with transaction.atomic():
        experiment.lifecycle_stage = stage
        experiment.save(update_fields=["lifecycle_stage", "updated_at"])
        experiment.jobs.update(lifecycle_stage=stage)


def experiment_set_tag(*, experiment: Experiment, key: str, value: str) -> None:
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        experiment.tags = {**(experiment.tags or {}), key: value}
        experiment.updated_at = timezone.now()
        experiment.save(update_fields=["tags", "updated_at"])


def experiment_delete_tag(*, experiment: Experiment, key) -> None:
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        tags = dict(experiment.tags or {})
        if not isinstance(key, str) or key not in tags:
            raise MlflowException(
                f"No tag with name: {str(key)[:200]} in experiment with id {experiment.pk}", RESOURCE_DOES_NOT_EXIST
            )
        del tags[key]
        experiment.tags = tags
        experiment.save(update_fields=["tags", "updated_at"])


# --- logged models ------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def logged_model_create(
    *, workspace, experiment: Experiment, name: str, run: Job | None, model_type: str, tags: dict, params: dict
) -> LoggedModel:
    """A new PENDING model in the experiment, its files' location chosen by the studio."""
    model_id = f"m-{uuid.uuid4().hex}"
    stamp = _now_ms()
    return LoggedModel.objects.create(
        model_id=model_id,
        workspace=workspace,
        experiment=experiment,
        name=name,
        artifact_location=logged_model_artifact_uri(model_id, experiment=experiment, run=run),
        status=LoggedModelStatus.PENDING,
        source_run=run,
        model_type=model_type,
        tags=tags,
        params=params,
        creation_timestamp=stamp,
        last_updated_timestamp=stamp,
    )


def logged_model_update(
    *,
    model: LoggedModel,
    status: str | None = None,
    lifecycle_stage: str | None = None,
    tags: dict | None = None,
    params: dict | None = None,
) -> LoggedModel:
    """Set the given fields (a final status, deleted, the whole tags or params) and the update time."""
    changes = {"status": status, "lifecycle_stage": lifecycle_stage, "tags": tags, "params": params}
    fields = [name for name, value in changes.items() if value is not None]
    for name in fields:
        setattr(model, name, changes[name])
    model.last_updated_timestamp = _now_ms()
    model.save(update_fields=[*fields, "last_updated_timestamp"])
    return model

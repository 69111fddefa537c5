"""MLflow endpoints: metrics (runs/log-metric, metrics/get-history, get-history-bulk,
get-history-bulk-interval) and the shared writer `record_metrics` that runs/log-batch also uses.

A metric value is stored as a float; NaN is stored as NULL (SQLite cannot hold NaN) and +-inf as
is. Writes are idempotent as in MLflow's SQL store, whose primary key is the whole point (key,
step, timestamp, value): an identical point logged twice (a client retry after a 5xx) is stored
once. History pages are keyset-paged and written as JSON directly (NaN and +-inf as protobuf
JSON's "NaN", "Infinity", "-Infinity"), since a page holds 25,000 points.
"""

import base64
import binascii
import json
import math

from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpResponse
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, _validate_metric_name

from jobs.models import Job, LifecycleStage
from workspaces.roles import Perm

from .http import Call, endpoint, invalid
from .models import LatestMetric, Metric
from .services import get_run, get_run_for_write, run_id_of

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_INT32 = 2**31 - 1  # max_results is an int32 in MLflow's protocol
MAX_MODEL_ID_LENGTH = Metric._meta.get_field("model_id").max_length
MAX_DATASET_NAME_LENGTH = Metric._meta.get_field("dataset_name").max_length
MAX_DATASET_DIGEST_LENGTH = Metric._meta.get_field("dataset_digest").max_length
# Rows per INSERT statement: 8 columns each stays far below SQLite's bound-parameter limit.
INSERT_CHUNK = 500
METRIC_COLUMNS = ("job_id", "key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")


# --- validation ---------------------------------------------------------------------------


def metric_value(value, key: str) -> float:
    """The float of a metric value as protobuf JSON allows it: a number, or a string such as
    "NaN", "Infinity", "-Infinity" or "1.5" (the client sends non-finite values as strings)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise invalid(f"Metric '{key[:250]}' has a value too large for a double.") from None
    if isinstance(value, str) and len(value) <= 64:
        try:
            return float(value)
        except ValueError:
            pass
    raise invalid(
        f"Invalid value {str(value)[:100]!r} for metric '{key[:250]}': "
        "specify the value as a valid double (64-bit floating point)."
    )


def int64(value, name: str, *, default: int | None = None, minimum: int = INT64_MIN) -> int:
    """An int64 field as protobuf JSON allows it: an integer, an integral float, or its string."""
    if value is None or value == "":
        if default is None:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return default
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 24:
        try:
            number = int(value)
        except ValueError:
            number = None
    if number is None or not minimum <= number <= INT64_MAX:
        raise invalid(f"Invalid value {str(value)[:100]!r} for parameter '{name}': expected a 64-bit integer.")
    return number


def metric_key(key) -> str:
    """A metric name MLflow accepts (checked by MLflow's own validator); long names are refused
    before the pattern is even tried."""
    if not isinstance(key, str) or key == "":
        raise invalid("Missing value for required parameter 'key'.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise invalid(f"Metric name '{key[:100]}...' had length {len(key)}, which exceeded length limit of 250.")
    _validate_metric_name(key, "key")
    return key


def _optional_text(value, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"'{name}' must be a string of at most {limit} characters.")
    return value


def clean_metric(raw, known_keys: set | None = None) -> tuple:
    """A request's metric dict as a row tuple (key, value, timestamp, step, model_id,
    dataset_name, dataset_digest), with `value` None for NaN. `known_keys` holds names already
    checked in this batch (a batch repeats a few names many times)."""
    if not isinstance(raw, dict):
        raise invalid("Each metric must be a JSON object with 'key', 'value', 'timestamp' and 'step'.")
    key = raw.get("key")
    if known_keys is None or not isinstance(key, str) or key not in known_keys:
        metric_key(key)
        if known_keys is not None:
            known_keys.add(key)
    if raw.get("value") is None:
        raise invalid(f"Missing value for required parameter 'value' of metric '{key}'.")
    value = metric_value(raw["value"], key)
    timestamp = int64(raw.get("timestamp"), "timestamp", default=0, minimum=0)
    step = int64(raw.get("step"), "step", default=0)
    return (
        key,
        None if math.isnan(value) else value,
        timestamp,
        step,
        _optional_text(raw.get("model_id"), "model_id", MAX_MODEL_ID_LENGTH),
        _optional_text(raw.get("dataset_name"), "dataset_name", MAX_DATASET_NAME_LENGTH),
        _optional_text(raw.get("dataset_digest"), "dataset_digest", MAX_DATASET_DIGEST_LENGTH),
    )


# --- writing ------------------------------------------------------------------------------


def _order(row) -> tuple:
    """How MLflow ranks points for a run's latest value: step, then timestamp, then value, with
    NaN ranked as 0 (MLflow's SQL store stores NaN as 0 plus a flag)."""
    return (row[3], row[2], 0.0 if row[1] is None else row[1])


def _drop_stored(job, rows: list[tuple]) -> list[tuple]:
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
        cursor.execute(sql, [job.pk, *keys, min(steps), max(steps), min(stamps), max(stamps)])
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


def record_metrics(job, metrics: list) -> int:
    """Validate and store metric dicts (`key`, `value`, `timestamp`, `step`, and optionally
    `model_id`, `dataset_name`, `dataset_digest`) for a run, and update its latest values.

    Runs in the caller's transaction; every metric is validated before anything is written, so
    a bad one leaves the run untouched. Returns how many new points were stored.
    """
    known_keys = set()
    return _store_rows(job, [clean_metric(raw, known_keys) for raw in metrics])


def _store_rows(job, rows: list[tuple]) -> int:
    """Store the new points under a lock on the run's row: writers into one run take turns, so a
    retried batch racing its first attempt is stored once, two batches can't deadlock on the
    latest values, and points become visible in id order (what live charts poll by)."""
    if not rows:
        return 0
    with transaction.atomic():
        Job.objects.select_for_update(no_key=True).filter(pk=job.pk).values_list("pk", flat=True).get()
        rows = _drop_stored(job, rows)
        if not rows:
            return 0
        _insert_points(job.pk, rows)
        _upsert_latest(job.pk, rows)
    return len(rows)


# --- reading ------------------------------------------------------------------------------

HISTORY_COLUMNS = ("id", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")
NON_FINITE_JSON = {math.inf: '"Infinity"', -math.inf: '"-Infinity"'}


def json_double(value) -> str:
    """A double as protobuf JSON writes it: NaN and +-inf as the strings the client parses."""
    if value is None or value != value:
        return '"NaN"'
    return NON_FINITE_JSON.get(value) or repr(value)


def _point_json(prefix: str, row) -> str:
    """One metric of a history page; `prefix` is the pre-encoded `{"key":...,` part."""
    _id, value, timestamp, step, model_id, dataset_name, dataset_digest = row
    extra = ""
    if model_id:
        extra += ',"model_id":' + json.dumps(model_id)
    if dataset_name:
        extra += ',"dataset_name":' + json.dumps(dataset_name)
    if dataset_digest:
        extra += ',"dataset_digest":' + json.dumps(dataset_digest)
    return f'{prefix}"value":{json_double(value)},"timestamp":{timestamp},"step":{step}{extra}}}'


def _points_json(key: str, rows: list[tuple]) -> str:
    """A page of history rows as the JSON array of the response (the hot part of get-history:
    plain finite points, the usual case, take one %-format each)."""
    prefix = '{"key":' + json.dumps(key) + ","
    plain = prefix + '"value":%r,"timestamp":%d,"step":%d}'
    parts = []
    for row in rows:
        value = row[1]
        if value is None or not -math.inf < value < math.inf or row[4] or row[5] or row[6]:
            parts.append(_point_json(prefix, row))
        else:
            parts.append(plain % (value, row[2], row[3]))
    return "[" + ",".join(parts) + "]"


def _page_token(row) -> str:
    return base64.urlsafe_b64encode(json.dumps([row[3], row[2], row[0]]).encode()).decode()


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
    """The points of one metric ordered by step, then timestamp (then logging order)."""
    rows = Metric.objects.filter(job=job, key=key)
    if page_token:
        rows = rows.filter(_after_token(page_token))
    rows = rows.order_by("step", "timestamp", "id").values_list(*HISTORY_COLUMNS)
    if limit is not None:
        rows = rows[:limit]
    # The ORM writes the query; the rows are fetched in one go (tens of thousands per page).
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _max_results(call: Call) -> int | None:
    raw = call.get("max_results")
    if raw in (None, ""):
        return None
    value = int64(raw, "max_results")
    if not 0 < value <= MAX_INT32:
        raise invalid(
            f"Invalid value {value} for parameter 'max_results' supplied. "
            f"It must be a positive integer of at most {MAX_INT32}."
        )
    return value


@endpoint(methods=("GET",), perm=Perm.DATA_READ, hot=True)
def get_history(call: Call) -> HttpResponse:
    """`metrics/get-history`: all points of a metric, or a page of `max_results` of them (the
    client asks for 25,000 at a time and follows `next_page_token`)."""
    key = call.require("metric_key")
    if not isinstance(key, str) or len(key) > MAX_ENTITY_KEY_LENGTH:
        raise invalid("'metric_key' must be a metric name of at most 250 characters.")
    max_results = _max_results(call)
    token = call.get("page_token") or None
    if token is not None and (not isinstance(token, str) or len(token) > 200):
        raise invalid("Invalid page token.")
    job = get_run(call)
    rows = history_rows(job, key, limit=None if max_results is None else max_results + 1, page_token=token)
    next_token = ""
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        next_token = _page_token(rows[-1])
    body = '{"metrics":' + _points_json(key, rows)
    if next_token:
        body += ',"next_page_token":"' + next_token + '"'
    return HttpResponse(body + "}", content_type="application/json")


def _run_state(workspace_id: int, run_id: str) -> tuple | None:
    """(pk, lifecycle_stage, parent pk) of the workspace's run, in one plain query (the hot path's lookup)."""
    q = connection.ops.quote_name
    sql = (
        f"SELECT {q('id')}, {q('lifecycle_stage')}, {q('parent_id')} FROM {q(Job._meta.db_table)} "  # noqa: S608
        f"WHERE {q('workspace_id')} = %s AND {q('name')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace_id, run_id])
        return cursor.fetchone()


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE, hot=True)
def log_metric(call: Call) -> dict:
    """`runs/log-metric`: one point. Retries of the same point are stored once."""
    for name in ("key", "value", "timestamp"):
        call.require(name)
    run_id = run_id_of(call)
    row = clean_metric(call.body)
    found = _run_state(call.workspace.pk, run_id)
    job_scope = call.access.job_id
    if found is None or found[1] != LifecycleStage.ACTIVE or (job_scope and job_scope not in (found[0], found[2])):
        # The error MLflow gives (not found, not active), or a job's token checked in full.
        found = (get_run_for_write(call, run_id).pk,)
    with transaction.atomic():
        _store_rows(Job(pk=found[0]), [row])
    return {}


# --- sampled history (the MLflow UI's charts) ---------------------------------------------

MAX_RESULTS_PER_RUN = 2500  # mlflow.server.handlers.MAX_RESULTS_PER_RUN
MAX_RUNS_PER_INTERVAL_REQUEST = 100  # mlflow.server.handlers.MAX_RUNS_GET_METRIC_HISTORY_BULK
MAX_RUNS_PER_BULK_REQUEST = 100
MAX_RESULTS_BULK = 25000


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


def _step_range(call: Call) -> tuple:
    start, end = call.get("start_step"), call.get("end_step")
    if start in (None, "") and end in (None, ""):
        return None, None
    if start in (None, "") or end in (None, ""):
        raise invalid("If either start step or end step are specified, both must be specified.")
    start, end = int64(start, "start_step"), int64(end, "end_step")
    if start > end:
        raise invalid(f"end_step must be greater than start_step. Found start_step={start} and end_step={end}.")
    return start, end


def _run_ids(call: Call, name: str, limit: int) -> list[str]:
    run_ids = call.get_list(name)
    if not run_ids:
        raise invalid(f"Missing value for required parameter '{name}'.")
    if len(run_ids) > limit:
        raise invalid(f"Specify at most {limit} {name}. Received {len(run_ids)}.")
    if not all(isinstance(run_id, str) for run_id in run_ids):
        raise invalid(f"'{name}' must be a list of strings.")
    return list(dict.fromkeys(run_ids))


def _metric_json(key: str, run_id: str, value, timestamp: int, step: int) -> dict:
    return {"key": key, "value": _json_value(value), "timestamp": timestamp, "step": step, "run_id": run_id}


def _json_value(value):
    """A value for JsonResponse: non-finite doubles as protobuf JSON's strings."""
    if value is None or not math.isfinite(value):
        return json.loads(json_double(value))
    return value


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get_history_bulk_interval(call: Call) -> dict:
    """`metrics/get-history-bulk-interval`: a sample of a metric across several runs, as the
    MLflow UI charts it."""
    run_ids = _run_ids(call, "run_ids", MAX_RUNS_PER_INTERVAL_REQUEST)
    key = call.require("metric_key")
    start, end = _step_range(call)
    max_results = MAX_RESULTS_PER_RUN
    if call.get("max_results") not in (None, ""):
        max_results = int64(call.get("max_results"), "max_results")
        if not 1 <= max_results <= MAX_RESULTS_PER_RUN:
            raise invalid(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    jobs = [get_run(call, run_id) for run_id in run_ids]
    metrics = [
        _metric_json(key, job.name, *row) for job in jobs for row in sampled_rows(job, key, max_results, start, end)
    ]
    return {"metrics": metrics}


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get_history_bulk(call: Call) -> dict:
    """`metrics/get-history-bulk`: the full history of a metric for several runs (at most
    25,000 points in all), ordered by run, then timestamp, as MLflow's server returns it."""
    run_ids = _run_ids(call, "run_id", MAX_RUNS_PER_BULK_REQUEST)
    key = call.require("metric_key")
    max_results = MAX_RESULTS_BULK
    if call.get("max_results") not in (None, ""):
        max_results = min(max(int64(call.get("max_results"), "max_results"), 1), MAX_RESULTS_BULK)
    metrics = []
    for run_id in sorted(run_ids):
        job = get_run(call, run_id)
        rows = sorted(history_rows(job, key, limit=max_results), key=lambda row: (row[2], row[3], row[1] or 0.0))
        metrics += [_metric_json(key, run_id, row[1], row[2], row[3]) for row in rows]
    return {"metrics": metrics[:max_results]}


ROUTES = [
    ("runs/log-metric", log_metric),
    ("metrics/get-history", get_history),
    ("metrics/get-history-bulk", get_history_bulk),
    ("metrics/get-history-bulk-interval", get_history_bulk_interval),
]

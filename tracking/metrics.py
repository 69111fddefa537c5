"""MLflow endpoints: metrics (runs/log-metric, metrics/get-history, get-history-bulk,
get-history-bulk-interval). Points are stored by services.metric_rows_store (runs/log-batch too).

History pages are keyset-paged and written as JSON directly (NaN and +-inf as protobuf
JSON's "NaN", "Infinity", "-Infinity"), since a page holds 25,000 points.
"""

import json
import math

from django.http import HttpResponse

from jobs.models import LifecycleStage
from workspaces.roles import Perm

from . import validation
from .http import Call, endpoint, invalid
from .selectors import (
    get_run,
    get_run_for_write,
    history_page,
    history_rows,
    page_token_after,
    run_id_of,
    run_state,
    sampled_rows,
)
from .services import metric_rows_store

MAX_ENTITY_KEY_LENGTH = validation.MAX_ENTITY_KEY_LENGTH
int64 = validation.int64
MAX_INT32 = 2**31 - 1  # max_results is an int32 in MLflow's protocol


# --- reading ------------------------------------------------------------------------------

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
    """A page of history rows (HISTORY_COLUMNS) as the JSON array of the response."""
    prefix = '{"key":' + json.dumps(key) + ","
    return "[" + ",".join([_point_json(prefix, row) for row in rows]) + "]"


def _plain_points_json(key: str, rows: list[tuple]) -> str:
    """A page of plain points (history_page's rows, none special) as the JSON array of the
    response: one %-format each, the hot part of get-history (the id and the flag are left out)."""
    plain = '{"key":' + json.dumps(key).replace("%", "%%") + ',"value":%r,"timestamp":%d,"step":%d}%.0s%.0s'
    return "[" + ",".join(map(plain.__mod__, rows)) + "]"


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
    limit = None if max_results is None else max_results + 1
    rows = history_page(job, key, limit=limit, page_token=token)
    if not any(row[4] for row in rows):
        more = max_results is not None and len(rows) > max_results
        rows = rows[:max_results] if more else rows
        _value, timestamp, step, row_id, _special = rows[-1] if more else (None,) * 5
        points = _plain_points_json(key, rows)
    else:  # NaN, +-inf, a model or a dataset: the page again, written point by point
        rows = history_rows(job, key, limit=limit, page_token=token)
        more = max_results is not None and len(rows) > max_results
        rows = rows[:max_results] if more else rows
        row_id, _value, timestamp, step, *_extra = rows[-1] if more else (None,) * 7
        points = _points_json(key, rows)
    next_token = page_token_after(step=step, timestamp=timestamp, row_id=row_id) if more else ""
    body = '{"metrics":' + points
    if next_token:
        body += ',"next_page_token":"' + next_token + '"'
    return HttpResponse(body + "}", content_type="application/json")


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE, hot=True)
def log_metric(call: Call) -> dict:
    """`runs/log-metric`: one point. Retries of the same point are stored once."""
    for name in ("key", "value", "timestamp"):
        call.require(name)
    run_id = run_id_of(call)
    row = validation.clean_metric(call.body)
    found = run_state(call.workspace.pk, run_id)
    job_scope = call.access.job_id
    if found is None or found[1] != LifecycleStage.ACTIVE or (job_scope and job_scope not in (found[0], found[2])):
        # The error MLflow gives (not found, not active), or a job's token checked in full.
        found = (get_run_for_write(call, run_id).pk,)
    metric_rows_store(job_id=found[0], rows=[row])
    return {}


# --- sampled history (the MLflow UI's charts) ---------------------------------------------

MAX_RESULTS_PER_RUN = 2500  # mlflow.server.handlers.MAX_RESULTS_PER_RUN
MAX_RUNS_PER_INTERVAL_REQUEST = 100  # mlflow.server.handlers.MAX_RUNS_GET_METRIC_HISTORY_BULK
MAX_RUNS_PER_BULK_REQUEST = 100
MAX_RESULTS_BULK = 25000


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

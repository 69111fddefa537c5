"""MLflow's search grammar (runs/search, experiments/search) as Django queries.

MLflow's own parsers (`SearchUtils`, `SearchExperimentsUtils`) turn the filter and order_by strings
into clauses; this module turns each clause into a database condition, so the same search works on
SQLite and PostgreSQL. LIKE and ILIKE become anchored regular expressions (case-sensitive and not),
which both databases evaluate the same way. Params and tags are JSON keys on the Job, read with
KeyTextTransform, so dotted keys such as `mlflow.runName` are one key, not a path.
"""

import re
from datetime import timedelta

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, TextField, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from mlflow.entities import LifecycleStage as MlflowLifecycleStage
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils

from jobs.models import Experiment, Job

from . import validation
from .http import invalid
from .locations import ARTIFACT_STORE, SCHEME
from .models import LatestMetric, RunInput
from .serialize import JOB_STATUS, MLFLOW_STATUS, USER_ID_PROPERTY, from_ms

MAX_RESULTS_LIMIT = 50_000
DEFAULT_MAX_RESULTS = 1000
MS = timedelta(milliseconds=1)
DATASET_CONTEXT_TAG = "mlflow.data.context"

# The Django lookup of each MLflow comparator on a text or number expression.
LOOKUPS = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "IN": "in"}


MAX_FILTER_LENGTH = 4000
MAX_LIKE_WILDCARDS = 2
MAX_ORDER_BY = 10  # clauses; MLflow's web UI sends one or two
MAX_ORDER_BY_LENGTH = 1000  # characters in one clause
MAX_PAGE_OFFSET = 1_000_000_000  # rows skipped by a page token
_LIKE_OPERAND = re.compile(r"""\bI?LIKE\s+(['"])(.*?)\1""", re.IGNORECASE | re.DOTALL)


def check_filter(filter_string) -> str:
    """A search filter that is safe to evaluate: bounded in length, and each LIKE/ILIKE pattern
    with at most two `%` wildcards (e.g. '%abc%'). Patterns with more match in time that grows
    as a power of the value's length with a backtracking regex engine (SQLite's, and MLflow's
    in-memory filters), so one request could stall a web process."""
    if filter_string in (None, ""):
        return ""
    if not isinstance(filter_string, str):
        raise invalid("'filter' must be a string.")
    if len(filter_string) > MAX_FILTER_LENGTH:
        raise invalid(f"'filter' must be at most {MAX_FILTER_LENGTH} characters long.")
    for _, pattern in _LIKE_OPERAND.findall(filter_string):
        if re.sub(r"%+", "%", pattern).count("%") > MAX_LIKE_WILDCARDS:
            raise invalid(
                f"The LIKE pattern {pattern[:100]!r} uses '%' more than {MAX_LIKE_WILDCARDS} times; "
                "use at most two, e.g. '%part%'."
            )
    return filter_string


def like_regex(pattern: str, *, ignore_case: bool) -> str:
    """An SQL LIKE pattern (`%` any run, `_` one character) as a regular expression over the whole
    value, valid for Python's `re` (SQLite) and PostgreSQL alike."""
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        elif char.isalnum() or char == " ":
            parts.append(char)
        else:
            parts.append("\\" + char if char != "\n" else "\\n")
    return ("(?is)" if ignore_case else "(?s)") + r"\A" + "".join(parts) + r"\Z"


def check_max_results(value, default: int = DEFAULT_MAX_RESULTS) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(
            f"Invalid value {str(value)[:50]!r} for parameter 'max_results': it must be an integer."
        ) from None
    if number < 1 or number > MAX_RESULTS_LIMIT:
        raise invalid(
            f"Invalid value {number} for parameter 'max_results' supplied. "
            f"It must be a positive integer of at most {MAX_RESULTS_LIMIT}."
        )
    return number


def check_order_by(order_by) -> list[str]:
    """An order_by list that is safe to parse: at most MAX_ORDER_BY strings of bounded length."""
    if not isinstance(order_by, list) or any(not isinstance(clause, str) for clause in order_by):
        raise invalid("'order_by' must be a list of strings.")
    if len(order_by) > MAX_ORDER_BY:
        raise invalid(f"'order_by' may have at most {MAX_ORDER_BY} clauses, not {len(order_by)}.")
    for clause in order_by:
        if len(clause) > MAX_ORDER_BY_LENGTH:
            raise invalid(f"An 'order_by' clause must be at most {MAX_ORDER_BY_LENGTH} characters long.")
    return order_by


def page_offset(page_token) -> int:
    """The offset a page token (from next_page_token) holds: INVALID_PARAMETER_VALUE for a forged one."""
    try:
        offset = SearchUtils.parse_start_offset_from_page_token(page_token or None)
    except RecursionError:
        raise invalid("Invalid page token.") from None
    if not 0 <= offset <= MAX_PAGE_OFFSET:
        raise invalid(f"Invalid page token: its offset must be from 0 to {MAX_PAGE_OFFSET}.")
    return offset


def next_page_token(offset: int, max_results: int, fetched: int) -> str | None:
    """A token for the next page when one more row than asked for came back."""
    if fetched > max_results:
        return SearchUtils.create_page_token(offset + max_results).decode()
    return None


def json_text(key: str, field: str) -> Cast:
    """The text of one key of a JSON column, as plain text: compared and sorted as a string, not
    through the JSON lookups (which would read the right-hand side as JSON)."""
    return Cast(KeyTextTransform(key, field), output_field=TextField())


class _Aliases:
    """Unique annotation names for the expressions a query filters and sorts on."""

    def __init__(self):
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"_search_{self.count}"


def _text_condition(alias: str, comparator: str, value, *, must_exist: bool) -> Q:
    """The condition `<alias> <comparator> value` on an annotated text expression."""
    if comparator == "LIKE":
        return Q(**{f"{alias}__regex": like_regex(value, ignore_case=False)})
    if comparator == "ILIKE":
        return Q(**{f"{alias}__regex": like_regex(value, ignore_case=True)})
    if comparator == "!=":
        condition = ~Q(**{f"{alias}__exact": value})
        return condition & Q(**{f"{alias}__isnull": False}) if must_exist else condition
    if comparator == "NOT IN":
        return ~Q(**{f"{alias}__in": list(value)})
    if comparator == "IN":
        return Q(**{f"{alias}__in": list(value)})
    if comparator in LOOKUPS:
        return Q(**{f"{alias}__{LOOKUPS[comparator]}": value})
    raise invalid(f"Invalid comparator {comparator!r}.")


def _time_condition(field: str, comparator: str, ms) -> Q:
    """`<time attribute in ms> <comparator> ms`, on a datetime column: a millisecond is the
    interval [ms, ms + 1), so stored times with microseconds compare as the client sees them."""
    try:
        start = from_ms(ms)
    except (OverflowError, OSError, ValueError):
        raise invalid(f"Invalid time value {ms!r}.") from None
    end = start + MS
    conditions = {
        "=": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
        "!=": Q(**{f"{field}__lt": start}) | Q(**{f"{field}__gte": end}),
        ">": Q(**{f"{field}__gte": end}),
        ">=": Q(**{f"{field}__gte": start}),
        "<": Q(**{f"{field}__lt": start}),
        "<=": Q(**{f"{field}__lt": end}),
    }
    if comparator not in conditions:
        raise invalid(f"Invalid comparator {comparator!r} for a time attribute.")
    return conditions[comparator]


# -- runs ------------------------------------------------------------------------------------------


def run_name_expression():
    return Coalesce(NullIf(F("display_name"), Value("")), F("name"))


def user_id_expression():
    return Coalesce(
        NullIf(json_text(USER_ID_PROPERTY, "properties"), Value("")),
        F("created_by__username"),
        Value(""),
        output_field=TextField(),
    )


def start_time_expression():
    return Coalesce(F("started_at"), F("created_at"))


def status_expression():
    """The job's status in MLflow's words, for sorting."""
    words = {}
    for azure, word in MLFLOW_STATUS.items():
        words.setdefault(word, []).append(azure)
    return Case(*[When(status__in=azure, then=Value(word)) for word, azure in words.items()], default=Value("RUNNING"))


def _statuses_matching(comparator: str, value) -> list[str]:
    """The Azure ML statuses whose MLflow word satisfies the comparison (there are only five)."""
    compare = SearchUtils.get_comparison_func(comparator)
    words = [word for word in JOB_STATUS if compare(word, value)]
    return [azure for azure, word in MLFLOW_STATUS.items() if word in words]


def _run_attribute(jobs: QuerySet, alias: str, key: str, comparator: str, value) -> tuple[QuerySet, Q]:
    if key == "start_time":
        return jobs.annotate(**{alias: start_time_expression()}), _time_condition(alias, comparator, value)
    if key == "end_time":
        return jobs, _time_condition("ended_at", comparator, value)
    if key == "status":
        return jobs, Q(status__in=_statuses_matching(comparator, value))
    expressions = {
        "run_id": F("name"),
        "run_name": run_name_expression(),
        "user_id": user_id_expression(),
        "artifact_uri": Concat(Value(f"{SCHEME}/{ARTIFACT_STORE}/ExperimentRun/dcid."), F("name")),
    }
    if key not in expressions:
        raise invalid(f"Invalid attribute key '{key}' specified.")
    jobs = jobs.annotate(**{alias: expressions[key]})
    return jobs, _text_condition(alias, comparator, value, must_exist=False)


def _metric_condition(key: str, comparator: str, value) -> Q:
    """A run whose latest value of the metric satisfies the comparison (NaN, stored as NULL,
    satisfies only `!=`)."""
    number = float(value)
    latest = LatestMetric.objects.filter(job=OuterRef("pk"), key=key)
    if comparator == "!=":
        latest = latest.filter(Q(value__isnull=True) | Q(value__lt=number) | Q(value__gt=number))
    else:
        latest = latest.filter(**{f"value__{LOOKUPS[comparator]}": number})
    return Q(Exists(latest))


def _dataset_condition(aliases: _Aliases, key: str, comparator: str, value) -> Q:
    inputs = RunInput.objects.filter(job=OuterRef("pk"))
    alias = aliases()
    if key == "context":
        inputs = inputs.annotate(**{alias: json_text(DATASET_CONTEXT_TAG, "tags")})
    elif key in ("name", "digest"):
        inputs = inputs.annotate(**{alias: F(f"dataset__{key}")})
    else:
        raise invalid(f"Invalid dataset key '{key}' specified.")
    return Q(Exists(inputs.filter(_text_condition(alias, comparator, value, must_exist=True))))


def _json_condition(jobs: QuerySet, alias: str, field: str, key: str, comparator: str, value) -> tuple[QuerySet, Q]:
    if comparator == "IS NULL":
        return jobs, ~Q(**{f"{field}__has_key": key})
    if comparator == "IS NOT NULL":
        return jobs, Q(**{f"{field}__has_key": key})
    jobs = jobs.annotate(**{alias: json_text(key, field)})
    return jobs, _text_condition(alias, comparator, value, must_exist=True)


def filter_runs(jobs: QuerySet, filter_string: str | None, aliases: _Aliases) -> QuerySet:
    """Apply an MLflow run filter (`metrics.acc > 0.9 and params.lr = '0.1' and ...`)."""
    for clause in SearchUtils.parse_search_filter(check_filter(filter_string) or None):
        key_type, comparator, value = clause["type"], clause["comparator"].upper(), clause["value"]
        key = SearchUtils.translate_key_alias(clause["key"])
        alias = aliases()
        if SearchUtils.is_string_attribute(key_type, key, comparator) or SearchUtils.is_numeric_attribute(
            key_type, key, comparator
        ):
            jobs, condition = _run_attribute(jobs, alias, key, comparator, value)
        elif SearchUtils.is_metric(key_type, comparator):
            condition = _metric_condition(key, comparator, value)
        elif SearchUtils.is_param(key_type, comparator):
            jobs, condition = _json_condition(jobs, alias, "params", key, comparator, value)
        elif SearchUtils.is_tag(key_type, comparator):
            jobs, condition = _json_condition(jobs, alias, "tags", key, comparator, value)
        elif SearchUtils.is_dataset(key_type, comparator):
            condition = _dataset_condition(aliases, key, comparator, value)
        else:
            raise invalid(f"Invalid search expression type '{key_type}'.")
        jobs = jobs.filter(condition)
    return jobs


def _run_order_value(jobs: QuerySet, aliases: _Aliases, key_type: str, key: str):
    """(queryset, missing-rank alias or None, value alias) for one order_by clause."""
    value_alias = aliases()
    if key_type == "attribute":
        expressions = {
            "start_time": start_time_expression(),
            "end_time": F("ended_at"),
            "status": status_expression(),
            "run_id": F("name"),
            "run_name": run_name_expression(),
            "user_id": user_id_expression(),
            "artifact_uri": F("name"),
        }
        if key not in expressions:
            raise invalid(f"Invalid order_by attribute '{key}'.")
        jobs = jobs.annotate(**{value_alias: expressions[key]})
        if key != "end_time":
            return jobs, None, value_alias
        rank_alias = aliases()
        return (
            jobs.annotate(**{rank_alias: Case(When(ended_at__isnull=True, then=1), default=0)}),
            rank_alias,
            value_alias,
        )
    rank_alias = aliases()
    if key_type == "metric":
        latest = LatestMetric.objects.filter(job=OuterRef("pk"), key=key)
        jobs = jobs.annotate(**{value_alias: Subquery(latest.values("value")[:1])})
        # A real value first, then NaN (a NULL value), then runs without the metric.
        rank = Case(When(~Exists(latest), then=2), When(**{f"{value_alias}__isnull": True}, then=1), default=0)
    elif key_type in ("parameter", "tag"):
        field = "params" if key_type == "parameter" else "tags"
        jobs = jobs.annotate(**{value_alias: json_text(key, field)})
        rank = Case(When(**{f"{field}__has_key": key}, then=0), default=1)
    else:
        raise invalid(f"Invalid order_by entity type '{key_type}'.")
    return jobs.annotate(**{rank_alias: rank}), rank_alias, value_alias


def order_runs(jobs: QuerySet, order_by: list[str], aliases: _Aliases) -> QuerySet:
    """Sort as MLflow does: each order_by clause (missing values last), then start time
    (newest first) unless sorted by it, then run id."""
    ordering = []
    seen = set()
    for clause in check_order_by(order_by):
        key_type, key, ascending = SearchUtils.parse_order_by_for_search_runs(clause)
        key = SearchUtils.translate_key_alias(key)
        if (key_type, key) in seen:
            raise invalid(f"`order_by` contains duplicate fields: {order_by}")
        seen.add((key_type, key))
        jobs, rank_alias, value_alias = _run_order_value(jobs, aliases, key_type, key)
        if rank_alias:
            ordering.append(F(rank_alias).asc())
        ordering.append(F(value_alias).asc() if ascending else F(value_alias).desc())
    if ("attribute", "start_time") not in seen:
        jobs = jobs.annotate(_search_start=start_time_expression())
        ordering.append(F("_search_start").desc())
    ordering.append(F("name").asc())
    return jobs.order_by(*ordering)


def experiment_ids_in(workspace, experiment_ids: list) -> list[int]:
    """The workspace's experiments among the ids asked for ("0" is its Default experiment)."""
    from .selectors import default_experiment

    ids = set()
    for experiment_id in experiment_ids:
        if str(experiment_id) == "0":
            ids.add(default_experiment(workspace).pk)
        else:
            ids.add(validation.experiment_id(experiment_id))
    return list(Experiment.objects.filter(workspace=workspace, pk__in=ids).values_list("pk", flat=True))


def search_runs(
    *,
    workspace,
    experiment_ids: list,
    filter_string: str | None,
    view_type: int,
    max_results,
    order_by: list[str],
    page_token: str | None,
) -> tuple[list[Job], str | None]:
    """One page of the workspace's runs in these experiments, and the token of the next page."""
    max_results = check_max_results(max_results)
    offset = page_offset(page_token)
    stages = MlflowLifecycleStage.view_type_to_stages(view_type)
    aliases = _Aliases()
    jobs = Job.objects.filter(
        workspace=workspace, experiment_id__in=experiment_ids_in(workspace, experiment_ids), lifecycle_stage__in=stages
    )
    jobs = filter_runs(jobs, filter_string, aliases)
    jobs = order_runs(jobs, order_by, aliases)
    jobs = jobs.select_related("created_by").prefetch_related(
        "latest_metrics", "dataset_inputs__dataset", "model_outputs"
    )
    page = list(jobs[offset : offset + max_results + 1])
    return page[:max_results], next_page_token(offset, max_results, len(page))


# -- experiments -----------------------------------------------------------------------------------


def _experiment_attribute(experiments: QuerySet, alias: str, key: str, comparator: str, value):
    if key == "experiment_id":
        if comparator not in ("=", "!=", "IN", "NOT IN"):
            raise invalid(f"Invalid comparator for experiment_id: {comparator}")
        ids = (
            [validation.experiment_id(v) for v in value]
            if isinstance(value, tuple)
            else validation.experiment_id(value)
        )
        return experiments.annotate(**{alias: F("pk")}), _text_condition(alias, comparator, ids, must_exist=False)
    if key in ("creation_time", "last_update_time"):
        if isinstance(value, float):
            raise invalid(f"Invalid value for numeric attribute '{key}': {value!r}")
        field = "created_at" if key == "creation_time" else "updated_at"
        return experiments, _time_condition(field, comparator, value)
    if key == "name":
        if comparator not in ("=", "!=", "LIKE", "ILIKE"):
            raise invalid(f"Invalid comparator for string attribute: {comparator}")
        return experiments.annotate(**{alias: F("name")}), _text_condition(alias, comparator, value, must_exist=False)
    raise invalid(f"Invalid attribute key '{key}' specified.")


def filter_experiments(experiments: QuerySet, filter_string: str | None, aliases: _Aliases) -> QuerySet:
    for clause in SearchExperimentsUtils.parse_search_filter(check_filter(filter_string) or None):
        key_type, key, comparator, value = clause["type"], clause["key"], clause["comparator"].upper(), clause["value"]
        alias = aliases()
        if key_type == "attribute":
            experiments, condition = _experiment_attribute(experiments, alias, key, comparator, value)
        elif key_type == "tag":
            if comparator not in ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"):
                raise invalid(f"Invalid comparator for tag: {comparator}")
            experiments, condition = _json_condition(experiments, alias, "tags", key, comparator, value)
        else:
            raise invalid(f"Invalid token type: {key_type}")
        experiments = experiments.filter(condition)
    return experiments


EXPERIMENT_ORDER_FIELDS = {
    "name": "name",
    "experiment_id": "pk",
    "creation_time": "created_at",
    "last_update_time": "updated_at",
}


def order_experiments(experiments: QuerySet, order_by: list[str]) -> QuerySet:
    """MLflow's order: the clauses given (default newest first), then experiment id."""
    ordering = []
    fields = set()
    for clause in check_order_by(order_by) or ["creation_time DESC", "experiment_id ASC"]:
        key_type, key, ascending = SearchExperimentsUtils.parse_order_by_for_search_experiments(clause)
        if key_type != "attribute" or key not in EXPERIMENT_ORDER_FIELDS:
            raise invalid(f"Invalid order_by entity: {key_type}")
        field = EXPERIMENT_ORDER_FIELDS[key]
        fields.add(field)
        ordering.append(F(field).asc() if ascending else F(field).desc())
    if "pk" not in fields:
        ordering.append(F("pk").desc())
    return experiments.order_by(*ordering)


def search_experiments(
    *, workspace, view_type: int, max_results, filter_string: str | None, order_by: list[str], page_token: str | None
) -> tuple[list[Experiment], str | None]:
    """One page of the workspace's experiments, and the token of the next page."""
    max_results = check_max_results(max_results)
    offset = page_offset(page_token)
    try:
        stages = MlflowLifecycleStage.view_type_to_stages(view_type or ViewType.ACTIVE_ONLY)
    except MlflowException:
        raise MlflowException(f"Invalid view_type {view_type!r}.", INVALID_PARAMETER_VALUE) from None
    experiments = Experiment.objects.filter(workspace=workspace, lifecycle_stage__in=stages)
    experiments = filter_experiments(experiments, filter_string, _Aliases())
    experiments = order_experiments(experiments, order_by)
    page = list(experiments[offset : offset + max_results + 1])
    return page[:max_results], next_page_token(offset, max_results, len(page))


def view_type_of(value) -> int:
    """A ViewType from the proto's enum number or name."""
    if value in (None, ""):
        return ViewType.ACTIVE_ONLY
    if isinstance(value, str) and not value.isdigit():
        names = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY, "ALL": ViewType.ALL}
        if value.upper() not in names:
            raise invalid(f"Invalid view_type {value[:50]!r}.")
        return names[value.upper()]
    if int(value) not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        raise invalid(f"Invalid view_type {value!r}.")
    return int(value)

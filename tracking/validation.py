"""MLflow's rules for names and values, with the messages its server gives: what a metric, param or
tag name may contain, value lengths, batch limits, experiment, model, alias and dataset checks.

A param or tag value over its limit is cut to it while MLFLOW_TRUNCATE_LONG_VALUES is on (MLflow's
default), as MLflow's server does; other values over a limit are refused naming the field.
"""

import json
import math
import posixpath
import re

from mlflow.entities import Param, RunTag
from mlflow.environment_variables import MLFLOW_TRUNCATE_LONG_VALUES
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20_000
MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1_048_575
MAX_DATASET_SOURCE_SIZE = 65_535
MAX_DATASET_PROFILE_SIZE = 16_777_215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
PROMPT_TEXT_TAG_KEY = "mlflow.prompt.text"
MAX_METRIC_MODEL_ID_LENGTH = 64
MAX_METRIC_DATASET_NAME_LENGTH = 500
MAX_METRIC_DATASET_DIGEST_LENGTH = 36

NAME_CHARACTERS = re.compile(r"^[/\w.\- :]*$")
BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:)"
    " and slashes (/)."
)
ALIAS_CHARACTERS = re.compile(r"^[\w\-]*$")
VERSION_ALIAS = re.compile(r"^[vV]\d+$")


def _invalid(message: str) -> MlflowException:
    return MlflowException(message, INVALID_PARAMETER_VALUE)


def _invalid_value(path: str, value, message: str) -> MlflowException:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return _invalid(f"Invalid value {shown} for parameter '{path}' supplied: {message}")


def _too_long(path: str, limit: int) -> MlflowException:
    return _invalid(f"'{path}' exceeds the maximum length of {limit} characters")


def _json_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _not_unique(name: str) -> bool:
    """Whether a name, read as a file path, would name another file (`a/../b`, `./a`, `/a`)."""
    normal = posixpath.normpath(name)
    return normal != name or normal == "." or normal.startswith(("..", "/"))


def check_name(name, path: str = "key", *, missing: str | None = None) -> None:
    """A metric, param or tag name: the characters MLflow allows, and no path tricks."""
    if name is None:
        raise _invalid(missing or f"Missing value for required parameter '{path}'.")
    if not NAME_CHARACTERS.match(name):
        raise _invalid_value(path, name, BAD_CHARACTERS)
    if _not_unique(name):
        raise _resolves_elsewhere(path, name)


def _resolves_elsewhere(path: str, name: str) -> MlflowException:
    return _invalid_value(
        path,
        name,
        "Names may be treated as files in certain cases, and must not resolve to other names when treated"
        f" as such. This name would resolve to {posixpath.normpath(name)!r}",
    )


def _limited(path: str, limit: int, value, *, truncate: bool = False):
    if value is None or len(value) <= limit:
        return value
    if truncate and MLFLOW_TRUNCATE_LONG_VALUES.get():
        return value[:limit]
    raise _too_long(path, limit)


def param(key, value, path: str = "") -> Param:
    """A param as stored: a valid name, its value cut to MAX_PARAM_VAL_LENGTH (see above)."""
    check_name(key, _json_path(path, "key"))
    return Param(
        _limited("Param key", MAX_ENTITY_KEY_LENGTH, key),
        _limited("Param value", MAX_PARAM_VAL_LENGTH, value, truncate=True),
    )


def tag(key, value, path: str = "") -> RunTag:
    """A run tag as stored: a valid name, its value cut to MAX_TAG_VAL_LENGTH (see above)."""
    check_name(key, _json_path(path, "key"))
    return RunTag(
        _limited(_json_path(path, "key"), MAX_ENTITY_KEY_LENGTH, key),
        _limited(_json_path(path, "value"), MAX_TAG_VAL_LENGTH, value, truncate=True),
    )


def params_and_tags(params: list[Param], tags: list[RunTag]) -> tuple[list[Param], list[RunTag]]:
    """A batch's params and tags checked, each named by its place in the batch; a param key given
    twice is refused."""
    params = [param(p.key, p.value, path=f"params[{i}]") for i, p in enumerate(params)]
    keys = [p.key for p in params]
    repeated = [key for index, key in enumerate(keys) if key in keys[:index]]
    if repeated:
        raise _invalid(
            f"Duplicate parameter keys have been submitted: {repeated}. Please ensure "
            "the request contains only one param value per param key."
        )
    return params, [tag(t.key, t.value, path=f"tags[{i}]") for i, t in enumerate(tags)]


def batch_limits(body: bytes, metrics: list, params: list, tags: list) -> None:
    """A log-batch request within MLflow's bounds: its size, and how many items of each kind."""
    if len(body) > MAX_BATCH_LOG_REQUEST_SIZE:
        raise _invalid(
            f"Batched logging API requests must be at most {MAX_BATCH_LOG_REQUEST_SIZE} bytes, "
            f"got a request of size {len(body)}."
        )
    for what, limit, count in (
        ("metrics", MAX_METRICS_PER_BATCH, len(metrics)),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, len(params)),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags)),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, len(metrics) + len(params) + len(tags)),
    ):
        if count > limit:
            raise _invalid(
                f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
                f"Please split up {what} across multiple requests and try again."
            )


def metric_name(name, path: str = "name") -> None:
    check_name(name, path, missing="Metric name cannot be None. A key name must be provided.")


def experiment_name(name) -> None:
    if name is None or name == "":
        raise _invalid(f"Invalid experiment name: '{name}'")
    if not isinstance(name, str):
        raise _invalid(f"Invalid experiment name: {name}. Expects a string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise _too_long("name", MAX_EXPERIMENT_NAME_LENGTH)


def experiment_tag(key, value) -> None:
    check_name(key)
    _limited("key", MAX_ENTITY_KEY_LENGTH, key)
    _limited("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, value)


def experiment_id(value) -> int:
    try:
        return int(value)
    except (ValueError, TypeError):
        raise _invalid(f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer.") from None


def model_name(name) -> None:
    """A registered model's name: not blank, no '/' or ':', and no path tricks."""
    if name is None or name.strip() == "":
        raise _invalid("Missing value for required parameter 'name'.")
    if "/" in name or ":" in name:
        raise _invalid(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if _not_unique(name):
        raise _resolves_elsewhere("name", name)


def registered_model_tag(key, value) -> None:
    check_name(key)
    _limited("key", MAX_ENTITY_KEY_LENGTH, key)
    _limited("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)


def model_version_tag(key, value) -> None:
    check_name(key)
    if value is None:
        raise _invalid("Tag value cannot be None")
    _limited("key", MAX_ENTITY_KEY_LENGTH, key)
    if key == PROMPT_TEXT_TAG_KEY and len(value) > MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH:
        raise _invalid(f"Prompt text exceeds max length of {MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH} characters.")
    _limited("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)


def alias_name(alias) -> None:
    if alias is None or alias == "":
        raise _invalid("Registered model alias name cannot be empty.")
    if not ALIAS_CHARACTERS.match(alias):
        raise _invalid(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    _limited("Registered model alias name", MAX_ALIAS_LENGTH, alias)


def alias_not_reserved(alias: str) -> None:
    if alias.lower() == "latest":
        raise _invalid("'latest' alias name (case insensitive) is reserved.")
    if VERSION_ALIAS.match(alias):
        raise _invalid(f"Version alias name '{alias}' is reserved.")


def logged_model_name(name) -> None:
    if name is None:
        return
    bad = ("/", ":", ".", "%", '"', "'")
    if not name or any(c in name for c in bad):
        raise _invalid(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {bad}"
        )


def dataset_inputs(inputs: list) -> None:
    """log-inputs' datasets and their tags within MLflow's sizes."""
    for dataset_input in inputs:
        dataset = dataset_input.dataset
        for field in ("name", "digest", "source_type", "source"):
            if getattr(dataset, field) is None:
                raise _invalid(f"Dataset {field} cannot be None")
        for field, limit in (
            ("name", MAX_DATASET_NAME_SIZE),
            ("digest", MAX_DATASET_DIGEST_SIZE),
            ("source", MAX_DATASET_SOURCE_SIZE),
            ("schema", MAX_DATASET_SCHEMA_SIZE),
            ("profile", MAX_DATASET_PROFILE_SIZE),
        ):
            _limited(field, limit, getattr(dataset, field))
        for input_tag in dataset_input.tags:
            if input_tag.key is None or input_tag.value is None:
                raise _invalid("InputTag key and value cannot be None")
            _limited("key", MAX_INPUT_TAG_KEY_SIZE, input_tag.key)
            _limited("value", MAX_INPUT_TAG_VALUE_SIZE, input_tag.value)


# --- metrics -----------------------------------------------------------------------------


def metric_value(value, key: str) -> float:
    """The float of a metric value as protobuf JSON allows it: a number, or a string such as
    "NaN", "Infinity", "-Infinity" or "1.5" (the client sends non-finite values as strings)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise _invalid(f"Metric '{key[:250]}' has a value too large for a double.") from None
    if isinstance(value, str) and len(value) <= 64:
        try:
            return float(value)
        except ValueError:
            pass
    raise _invalid(
        f"Invalid value {str(value)[:100]!r} for metric '{key[:250]}': "
        "specify the value as a valid double (64-bit floating point)."
    )


def int64(value, name: str, *, default: int | None = None, minimum: int = INT64_MIN) -> int:
    """An int64 field as protobuf JSON allows it: an integer, an integral float, or its string."""
    if value is None or value == "":
        if default is None:
            raise _invalid(f"Missing value for required parameter '{name}'.")
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
        raise _invalid(f"Invalid value {str(value)[:100]!r} for parameter '{name}': expected a 64-bit integer.")
    return number


def metric_key(key) -> str:
    """A metric name MLflow accepts (checked by MLflow's own validator); long names are refused
    before the pattern is even tried."""
    if not isinstance(key, str) or key == "":
        raise _invalid("Missing value for required parameter 'key'.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise _invalid(f"Metric name '{key[:100]}...' had length {len(key)}, which exceeded length limit of 250.")
    metric_name(key, "key")
    return key


def _optional_text(value, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(f"'{name}' must be a string of at most {limit} characters.")
    return value


def clean_metric(raw, known_keys: set | None = None) -> tuple:
    """A request's metric dict as a row tuple (key, value, timestamp, step, model_id,
    dataset_name, dataset_digest), with `value` None for NaN. `known_keys` holds names already
    checked in this batch (a batch repeats a few names many times)."""
    if not isinstance(raw, dict):
        raise _invalid("Each metric must be a JSON object with 'key', 'value', 'timestamp' and 'step'.")
    key = raw.get("key")
    if len(raw) == 4 and type(key) is str and known_keys is not None and key in known_keys:
        # What the client sends for a finite value: a float, and whole numbers for the rest.
        value, timestamp, step = raw.get("value"), raw.get("timestamp"), raw.get("step")
        if (
            type(value) is float
            and value == value
            and type(timestamp) is int
            and 0 <= timestamp <= INT64_MAX
            and type(step) is int
            and INT64_MIN <= step <= INT64_MAX
        ):
            return (key, value, timestamp, step, "", "", "")
    if known_keys is None or not isinstance(key, str) or key not in known_keys:
        metric_key(key)
        if known_keys is not None:
            known_keys.add(key)
    if raw.get("value") is None:
        raise _invalid(f"Missing value for required parameter 'value' of metric '{key}'.")
    value = metric_value(raw["value"], key)
    timestamp = int64(raw.get("timestamp"), "timestamp", default=0, minimum=0)
    step = int64(raw.get("step"), "step", default=0)
    return (
        key,
        None if math.isnan(value) else value,
        timestamp,
        step,
        _optional_text(raw.get("model_id"), "model_id", MAX_METRIC_MODEL_ID_LENGTH),
        _optional_text(raw.get("dataset_name"), "dataset_name", MAX_METRIC_DATASET_NAME_LENGTH),
        _optional_text(raw.get("dataset_digest"), "dataset_digest", MAX_METRIC_DATASET_DIGEST_LENGTH),
    )

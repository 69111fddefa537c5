"""Where MLflow artifacts live, and the URIs the client sees for them.

An artifact URI is `mlflow-artifacts:/<datastore>/<path>`: the client resolves it against the
tracking URI to `.../api/2.0/mlflow-artifacts/artifacts/<datastore>/<path>`, which the studio
serves from that datastore of the workspace. A run's artifacts are the job's folder in
`workspaceartifactstore` (`ExperimentRun/dcid.<run id>`, next to its outputs and logs).

A logged model (MLflow 3) made by a run keeps its files in that run's `outputs/models/<model id>`,
so the job's Outputs tab lists it next to the run's other outputs; one made outside any run keeps
them where MLflow would, `<experiment artifact location>/models/<model id>/artifacts`.
"""

from django.core.exceptions import ValidationError

from workspaces.paths import clean_path
from workspaces.selectors import datastore_by_name

from .http import invalid

SCHEME = "mlflow-artifacts:"
ARTIFACT_STORE = "workspaceartifactstore"


def artifact_uri(datastore: str, path: str) -> str:
    return f"{SCHEME}/{datastore}/{path.strip('/')}" if path.strip("/") else f"{SCHEME}/{datastore}"


def run_artifact_uri(job) -> str:
    return artifact_uri(ARTIFACT_STORE, job.artifact_prefix)


def experiment_artifact_uri(experiment) -> str:
    return experiment.artifact_location or artifact_uri(ARTIFACT_STORE, f"mlflow/{experiment.pk}")


def logged_model_artifact_uri(model_id: str, *, experiment, run=None) -> str:
    """Where a new logged model's files go: below its source run's outputs, else its experiment's."""
    if run is not None:
        return f"{run_artifact_uri(run)}/outputs/models/{model_id}"
    return f"{experiment_artifact_uri(experiment).rstrip('/')}/models/{model_id}/artifacts"


def resolve_artifact_path(workspace, raw: str, *, field: str = "path"):
    """`<datastore>/<path>` (as the artifact routes get it) -> (Datastore, clean path).

    Raises INVALID_PARAMETER_VALUE for traversal (also percent-encoded), absolute or drive paths,
    NUL, backslash, '#', and a datastore the workspace does not have.
    """
    try:
        cleaned = clean_path(raw or "", field=field)
    except ValidationError as exc:
        raise invalid("; ".join(_messages(exc))) from None
    name, _, path = cleaned.partition("/")
    if not name:
        raise invalid(f"'{field}' must start with a datastore name, e.g. {ARTIFACT_STORE}/...")
    datastore = datastore_by_name(workspace=workspace, name=name)
    if datastore is None:
        raise invalid(f"'{field}': the workspace has no datastore named {name[:100]!r}.")
    return datastore, path


def parse_artifact_uri(workspace, uri: str, *, field: str):
    """`mlflow-artifacts:/<datastore>/<path>` -> (Datastore, clean path); anything else is invalid."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise invalid(f"'{field}' must be an {SCHEME}/<datastore>/<path> URI, got {str(uri)[:100]!r}.")
    rest = uri[len(SCHEME) :]
    if rest.startswith("//"):
        raise invalid(f"'{field}' must not name a host: {uri[:100]!r}.")
    return resolve_artifact_path(workspace, rest.lstrip("/"), field=field)


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"'{key}': {' '.join(msgs)}" for key, msgs in exc.message_dict.items()]
    return exc.messages

"""MLflow endpoints: experiments (the workspace's Azure ML experiments).

`set_experiment` in the client asks `get-by-name` and creates the experiment on a 404; an
experiment made here is the same Experiment a submitted job files under, so it shows in the
studio's Experiments and Jobs pages.
"""

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_STATE
from mlflow.protos.service_pb2 import CreateExperiment, SearchExperiments

from jobs.models import Experiment, LifecycleStage
from workspaces.roles import Perm

from . import services, validation
from .http import Call, check_value_length, endpoint, invalid, not_found
from .locations import artifact_uri, parse_artifact_uri
from .search import search_experiments
from .selectors import experiment_by_name, get_experiment, refuse_job_tokens
from .serialize import experiment_dict, read_message

DEFAULT_EXPERIMENT_NAME = "Default"
NAME_MAX_LENGTH = Experiment._meta.get_field("name").max_length


def _valid_name(name) -> str:
    validation.experiment_name(name)
    if len(name) > NAME_MAX_LENGTH:
        raise invalid(f"An experiment name is at most {NAME_MAX_LENGTH} characters.")
    return name


def _studio_artifact_location(call: Call, location: str) -> str:
    """Only a location in one of the workspace's datastores: never a host path or another server."""
    if not location:
        return ""
    datastore, path = parse_artifact_uri(call.workspace, location, field="artifact_location")
    return artifact_uri(datastore.name, path)


def _active_experiment(call: Call, experiment_id) -> Experiment:
    experiment = get_experiment(call, experiment_id)
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(
            f"The experiment {experiment.pk} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    return experiment


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def create_experiment(call: Call) -> dict:
    refuse_job_tokens(call, "create experiments")
    request = read_message(call, CreateExperiment())
    name = _valid_name(request.name)
    tags = {}
    for tag in request.tags:
        check_value_length("experiment tag", tag.key, tag.value, validation.MAX_EXPERIMENT_TAG_VAL_LENGTH)
        validation.experiment_tag(tag.key, tag.value)
        tags[tag.key] = tag.value
    location = _studio_artifact_location(call, request.artifact_location)
    experiment = services.experiment_create(workspace=call.workspace, name=name, artifact_location=location, tags=tags)
    return {"experiment_id": str(experiment.pk)}


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get(call: Call) -> dict:
    return {"experiment": experiment_dict(get_experiment(call, call.require("experiment_id")))}


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get_by_name(call: Call) -> dict:
    name = call.require("experiment_name")
    experiment = experiment_by_name(call.workspace, name)
    if experiment is None or (call.access.job and experiment.pk != call.access.job_experiment_id):
        raise not_found(f"Could not find experiment with name '{str(name)[:200]}'")
    return {"experiment": experiment_dict(experiment)}


@endpoint(methods=("POST", "GET"), perm=Perm.DATA_READ)
def search(call: Call) -> dict:
    request = read_message(call, SearchExperiments())
    experiments, token = search_experiments(
        workspace=call.workspace,
        view_type=request.view_type if request.HasField("view_type") else ViewType.ACTIVE_ONLY,
        max_results=request.max_results if request.HasField("max_results") else None,
        filter_string=request.filter,
        order_by=list(request.order_by),
        page_token=request.page_token,
    )
    if call.access.job:  # a job's token sees its own experiment only
        experiments = [e for e in experiments if e.pk == call.access.job_experiment_id]
    response = {"experiments": [experiment_dict(experiment) for experiment in experiments]}
    if token:
        response["next_page_token"] = token
    return response


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def update(call: Call) -> dict:
    refuse_job_tokens(call, "change experiments")
    experiment = get_experiment(call, call.require("experiment_id"))
    new_name = call.get("new_name")
    if new_name in (None, ""):
        return {}
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise MlflowException("Cannot rename a non-active experiment.", INVALID_STATE)
    if experiment.name == DEFAULT_EXPERIMENT_NAME:
        raise invalid("The workspace's Default experiment cannot be renamed.")
    services.experiment_rename(experiment=experiment, name=_valid_name(new_name))
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def delete(call: Call) -> dict:
    refuse_job_tokens(call, "delete experiments")
    experiment = get_experiment(call, call.require("experiment_id"))
    if experiment.name == DEFAULT_EXPERIMENT_NAME:
        raise invalid("The workspace's Default experiment cannot be deleted.")
    services.experiment_set_lifecycle(experiment=experiment, stage=LifecycleStage.DELETED)
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def restore(call: Call) -> dict:
    refuse_job_tokens(call, "restore experiments")
    experiment = get_experiment(call, call.require("experiment_id"))
    services.experiment_set_lifecycle(experiment=experiment, stage=LifecycleStage.ACTIVE)
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def set_experiment_tag(call: Call) -> dict:
    refuse_job_tokens(call, "tag experiments")
    key, value = call.require("key"), call.get("value", "")
    if not isinstance(key, str) or not isinstance(value, str):
        raise invalid("'key' and 'value' must be strings.")
    check_value_length("experiment tag", key, value, validation.MAX_EXPERIMENT_TAG_VAL_LENGTH)
    validation.experiment_tag(key, value)
    services.experiment_set_tag(
        experiment=_active_experiment(call, call.require("experiment_id")), key=key, value=value
    )
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def delete_experiment_tag(call: Call) -> dict:
    refuse_job_tokens(call, "tag experiments")
    key = call.require("key")
    services.experiment_delete_tag(experiment=_active_experiment(call, call.require("experiment_id")), key=key)
    return {}


ROUTES = [
    ("experiments/create", create_experiment),
    ("experiments/get", get),
    ("experiments/get-by-name", get_by_name),
    ("experiments/search", search),
    ("experiments/update", update),
    ("experiments/delete", delete),
    ("experiments/restore", restore),
    ("experiments/set-experiment-tag", set_experiment_tag),
    ("experiments/delete-experiment-tag", delete_experiment_tag),
]

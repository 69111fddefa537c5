"""MLflow's model registry, which is the studio's Models section.

A registered model is an `assets.RegisteredModel` (its description, tags and aliases) and its
versions are the `assets.Model` rows of that name: a model registered with `mlflow.register_model`
shows in the studio with its flavors and signature, and a model registered in the studio loads with
`mlflow.pyfunc.load_model("models:/<name>/<version>")`. A version's files stay in the workspace's
datastore where they are; its download URI is `mlflow-artifacts:/<datastore>/<path>`, which the
artifact routes serve.

A version's `source` must name files of this workspace: `mlflow-artifacts:/<datastore>/<path>`,
`runs:/<run id>/<path>` (the run's artifacts), `models:/<model id>` (a logged model),
`models:/<name>/<version>` or `azureml://datastores/<name>/paths/<path>`. Local paths, other
schemes, traversal (also percent-encoded), NUL, backslash and '#' are refused.

Stages map onto the studio's archive flag: "Archived" is an archived version; "Staging" and
"Production" are kept in the version's properties. Archived versions stay visible to the client,
in stage "Archived". Prompts are not models and are refused.
"""

import json
import urllib.parse

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    STAGE_ARCHIVED,
    STAGE_NONE,
    get_canonical_stage,
)
from mlflow.exceptions import MlflowException
from mlflow.protos import model_registry_pb2 as pb
from mlflow.protos.databricks_pb2 import INVALID_STATE, PERMISSION_DENIED, RESOURCE_ALREADY_EXISTS
from mlflow.utils.proto_json_utils import message_to_json
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

from assets.mlmodels import services as model_services
from assets.mlmodels.services import MAX_DESCRIPTION, MAX_MAP_ITEMS
from assets.models import Model, ModelAlias
from assets.models import RegisteredModel as RegisteredModelRow
from assets.versioning import DuplicateVersion, validate_name_and_version
from jobs.models import Job
from workspaces.paths import clean_path, join, parse_datastore_uri
from workspaces.roles import Perm
from workspaces.selectors import datastore_by_name
from workspaces.storage import DatastoreUnavailable

from . import validation
from .http import Call, check_value_length, endpoint, invalid, not_found
from .locations import ARTIFACT_STORE, artifact_uri, parse_artifact_uri
from .models import LoggedModel
from .search import check_filter, check_order_by, page_offset
from .serialize import to_ms

# Page sizes of MLflow's registry searches: the default, and the most one page may ask for.
SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000

STAGE_PROPERTY = "mlflow.stage"
IS_PROMPT_TAG_KEY = "mlflow.prompt.is_prompt"  # the tag that makes a registered model a prompt
RUN_LINK_PROPERTY = "mlflow.run_link"
MAX_SOURCE_LENGTH = 1024


# Rows -> MLflow entities -> JSON -----------------------------------------------------------------


def _json(message) -> dict:
    return json.loads(message_to_json(message))


def _stage(model: Model) -> str:
    if model.is_archived:
        return STAGE_ARCHIVED
    return (model.properties or {}).get(STAGE_PROPERTY) or STAGE_NONE


def _version_number(version: str):
    return int(version) if version.isdigit() else version


def _version_key(model: Model) -> tuple:
    """Newest last: whole numbers by value, then any other version name (studio-registered)."""
    return (0, int(model.version), "") if model.version.isdigit() else (1, 0, model.version)


class _Version(ModelVersion):
    """A ModelVersion whose proto carries the logged model id (the entity's to_proto leaves it out)."""

    def to_proto(self):
        proto = super().to_proto()
        if self.model_id:
            proto.model_id = self.model_id
        return proto


def version_entity(model: Model, aliases: list[str] | None = None) -> ModelVersion:
    properties = model.properties or {}
    return _Version(
        name=model.name,
        version=_version_number(model.version),
        creation_timestamp=to_ms(model.created_at),
        last_updated_timestamp=to_ms(model.updated_at),
        description=model.description,
        user_id=model.created_by.username if model.created_by_id else "",
        current_stage=_stage(model),
        source=model.source or artifact_uri(model.datastore.name, model.path),
        run_id=model.job_name or None,
        status=model.status or "READY",
        tags=[ModelVersionTag(key, str(value)) for key, value in (model.tags or {}).items()],
        run_link=properties.get(RUN_LINK_PROPERTY) or None,
        aliases=aliases or [],
        model_id=model.model_id or None,
    )


def _aliases_by_version(registered: RegisteredModelRow) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    for alias in registered.aliases.all():
        by_version.setdefault(alias.version, []).append(alias.alias)
    return by_version


def _latest_per_stage(versions: list[Model], stages=None) -> list[Model]:
    """The newest version in each stage (every stage when `stages` is empty), as MLflow's stores."""
    wanted = {get_canonical_stage(s) for s in stages} if stages else set(ALL_STAGES)
    latest: dict[str, Model] = {}
    for model in versions:
        stage = _stage(model)
        if stage in wanted and (stage not in latest or _version_key(model) > _version_key(latest[stage])):
            latest[stage] = model
    return sorted(latest.values(), key=_version_key)


def registered_entity(registered: RegisteredModelRow, versions: list[Model] | None = None) -> RegisteredModel:
    if versions is None:
        versions = list(_versions(registered.workspace, registered.name))
    aliases = _aliases_by_version(registered)
    return RegisteredModel(
        name=registered.name,
        creation_timestamp=to_ms(registered.created_at),
        last_updated_timestamp=to_ms(registered.updated_at),
        description=registered.description,
        latest_versions=[version_entity(m, aliases.get(m.version)) for m in _latest_per_stage(versions)],
        tags=[RegisteredModelTag(key, str(value)) for key, value in (registered.tags or {}).items()],
        aliases=[RegisteredModelAlias(alias.alias, alias.version) for alias in registered.aliases.all()],
    )


# Lookups ----------------------------------------------------------------------------------------


def _versions(workspace, name: str):
    return Model.objects.filter(workspace=workspace, name=name).select_related("datastore", "created_by")


def _name(call: Call, field: str = "name") -> str:
    name = call.get(field)
    if not isinstance(name, str) or not name.strip():
        raise invalid(f"Missing value for required parameter '{field}'.")
    validation.model_name(name)
    return name


def _checked_new_name(name: str, field: str = "name") -> str:
    try:
        validate_name_and_version(model=Model, name=name, version=None)
    except ValidationError as exc:
        raise invalid(f"'{field}': {' '.join(exc.message_dict.get('name', exc.messages))}") from None
    return name


def _registered(call: Call, name: str) -> RegisteredModelRow:
    """The registered model `name`; one created in the studio before the registry kept a row for
    each name gets its row here."""
    registered = RegisteredModelRow.objects.filter(workspace=call.workspace, name=name).first()
    if registered is None and Model.objects.filter(workspace=call.workspace, name=name).exists():
        registered, _ = RegisteredModelRow.objects.get_or_create(workspace=call.workspace, name=name)
    if registered is None:
        raise not_found(f"Registered Model with name={name[:256]} not found")
    return registered


def _version_arg(call: Call) -> str:
    version = call.get("version")
    if version in (None, ""):
        raise invalid("Missing value for required parameter 'version'.")
    return str(version)


def _model_version(call: Call, name: str | None = None, version: str | None = None) -> Model:
    name = name or _name(call)
    version = version or _version_arg(call)
    model = _versions(call.workspace, name).filter(version=version).first()
    if model is None:
        raise not_found(f"Model Version (name={name[:256]}, version={version[:30]}) not found")
    return model


def _ensure_row_for_every_name(workspace) -> None:
    """Names registered only as Model rows (before the registry kept a row per name) get one."""
    known = set(RegisteredModelRow.objects.filter(workspace=workspace).values_list("name", flat=True))
    names = set(Model.objects.filter(workspace=workspace).values_list("name", flat=True).distinct()) - known
    for name in sorted(names):
        RegisteredModelRow.objects.get_or_create(workspace=workspace, name=name)


def _tags_arg(call: Call, check) -> dict:
    tags = {}
    for tag in call.get_list("tags"):
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise invalid("Each tag must be an object with a 'key' and a 'value'.")
        value = tag.get("value")
        value = "" if value is None else str(value)
        check_value_length("tag", tag["key"], value, validation.MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH)
        check(tag["key"], value)
        tags[tag["key"]] = value
    if len(tags) > MAX_MAP_ITEMS:
        raise invalid(f"At most {MAX_MAP_ITEMS} tags.")
    return tags


def _description_arg(call: Call) -> str | None:
    description = call.get("description")
    if description is None:
        return None
    if not isinstance(description, str):
        raise invalid("'description' must be a string.")
    if len(description) > MAX_DESCRIPTION:
        raise invalid(f"'description' is longer than {MAX_DESCRIPTION} characters.")
    return description


def _refuse_prompt(tags: dict) -> None:
    if IS_PROMPT_TAG_KEY in tags:
        raise invalid("Prompts cannot be registered here: this registry holds the workspace's models.")


def _validation_error(exc: ValidationError) -> MlflowException:
    if hasattr(exc, "message_dict"):
        return invalid("; ".join(f"'{key}': {' '.join(msgs)}" for key, msgs in exc.message_dict.items()))
    return invalid(" ".join(exc.messages))


def _paged(items: list, call: Call, default: int, threshold: int) -> tuple[list, str | None]:
    raw = call.get("max_results", default)
    try:
        max_results = int(raw)
    except (TypeError, ValueError, OverflowError):
        raise invalid(f"'max_results' must be a whole number, got {str(raw)[:50]!r}.") from None
    if max_results < 1 or max_results > threshold:
        raise invalid(f"'max_results' must be between 1 and {threshold}, got {max_results}.")
    start = page_offset(call.get("page_token"))
    end = start + max_results
    return items[start:end], (SearchUtils.create_page_token(end) if end < len(items) else None)


def _order_by(call: Call) -> list[str]:
    return check_order_by(call.get_list("order_by"))


def _filter(call: Call) -> str:
    return check_filter(call.get("filter") or "")


# Sources ----------------------------------------------------------------------------------------


def _decoded(value: str) -> str:
    for _ in range(10):
        decoded = urllib.parse.unquote(value)
        if decoded == value:
            return value
        value = decoded
    raise invalid("'source' is percent-encoded too many times.")


def _run_files(call: Call, run_id: str, path: str):
    job = Job.objects.filter(workspace=call.workspace, name=run_id).first()
    if job is None:
        raise invalid(f"'source': this workspace has no run {run_id[:100]!r}.")
    return datastore_by_name(workspace=call.workspace, name=ARTIFACT_STORE), join(job.artifact_prefix, path)


def _logged_model_files(call: Call, model_id: str):
    logged = LoggedModel.objects.filter(workspace=call.workspace, model_id=model_id).first()
    if logged is None:
        raise invalid(f"This workspace has no logged model {model_id[:100]!r}.")
    return parse_artifact_uri(call.workspace, logged.artifact_location, field="source")


def resolve_source(call: Call, source) -> tuple:
    """A version's `source` -> (Datastore, path inside it); INVALID_PARAMETER_VALUE for anything that
    is not a place in this workspace's datastores."""
    if not isinstance(source, str) or not source:
        raise invalid("Missing value for required parameter 'source'.")
    if len(source) > MAX_SOURCE_LENGTH:
        raise invalid(f"'source' is longer than {MAX_SOURCE_LENGTH} characters.")
    canonical = _decoded(source)
    if any(ch in canonical for ch in ("\x00", "\\", "#")) or any(ord(ch) < 32 for ch in canonical):
        raise invalid(
            f"Invalid model version source {source[:100]!r}: NUL, backslash, '#' and control characters are not allowed."
        )
    try:
        if source.startswith("mlflow-artifacts:"):
            datastore, path = parse_artifact_uri(call.workspace, source, field="source")
        elif source.startswith("azureml://datastores/"):
            name, path = parse_datastore_uri(source, field="source")
            datastore = datastore_by_name(workspace=call.workspace, name=name)
            if datastore is None:
                raise invalid(f"'source': this workspace has no datastore named {name[:100]!r}.")
        elif source.startswith("runs:/") and not source.startswith("runs://"):
            run_id, _, rest = source[len("runs:/") :].partition("/")
            datastore, path = _run_files(call, run_id, clean_path(rest, field="source"))
        elif source.startswith("models:/") and not source.startswith("models://"):
            datastore, path = _models_uri_files(call, source[len("models:/") :])
        else:
            raise invalid(
                f"Invalid model version source {source[:100]!r}: use mlflow-artifacts:/<datastore>/<path>, "
                "runs:/<run id>/<path>, models:/<model id> or azureml://datastores/<name>/paths/<path>."
            )
    except ValidationError as exc:
        raise _validation_error(exc) from None
    if datastore is None or not path:
        raise invalid(f"Invalid model version source {source[:100]!r}: name a folder or file, not a datastore root.")
    return datastore, path


def _models_uri_files(call: Call, rest: str):
    """`models:/<model id>`, `models:/<name>/<version>` or `models:/<name>@<alias>`."""
    parts = rest.split("/")
    if len(parts) == 1 and "@" not in parts[0]:
        return _logged_model_files(call, parts[0])
    if len(parts) == 1:
        name, _, alias = parts[0].partition("@")
        registered = _registered(call, name)
        found = registered.aliases.filter(alias=alias).first()
        if found is None:
            raise invalid(f"'source': model {name[:100]!r} has no alias {alias[:100]!r}.")
        model = _versions(call.workspace, name).filter(version=found.version).first()
    elif len(parts) == 2:
        model = _versions(call.workspace, parts[0]).filter(version=parts[1]).first()
    else:
        model = None
    if model is None:
        raise invalid(f"'source': no model version {rest[:100]!r} in this workspace.")
    return model.datastore, model.path


# Registered models ------------------------------------------------------------------------------


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def create_registered_model(call: Call):
    name = _checked_new_name(_name(call))
    tags = _tags_arg(call, validation.registered_model_tag)
    _refuse_prompt(tags)
    description = _description_arg(call) or ""
    if Model.objects.filter(workspace=call.workspace, name=name).exists():
        raise MlflowException(f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS)
    try:
        with transaction.atomic():
            registered = RegisteredModelRow.objects.create(
                workspace=call.workspace, name=name, description=description, tags=tags
            )
    except IntegrityError:
        raise MlflowException(f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS) from None
    return _json(pb.CreateRegisteredModel.Response(registered_model=registered_entity(registered, []).to_proto()))


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get_registered_model(call: Call):
    registered = _registered(call, _name(call))
    return _json(pb.GetRegisteredModel.Response(registered_model=registered_entity(registered).to_proto()))


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def rename_registered_model(call: Call):
    registered = _registered(call, _name(call))
    new_name = call.get("new_name")
    if not isinstance(new_name, str) or not new_name.strip():
        raise invalid("Missing value for required parameter 'new_name'.")
    validation.model_name(new_name)
    _checked_new_name(new_name, "new_name")
    if new_name != registered.name:
        exists = RegisteredModelRow.objects.filter(workspace=call.workspace, name=new_name).exists()
        if exists or Model.objects.filter(workspace=call.workspace, name=new_name).exists():
            raise MlflowException(f"Registered Model (name={new_name}) already exists.", RESOURCE_ALREADY_EXISTS)
        with transaction.atomic():
            Model.objects.filter(workspace=call.workspace, name=registered.name).update(
                name=new_name, updated_at=timezone.now()
            )
            registered.name = new_name
            registered.save(update_fields=["name", "updated_at"])
    return _json(pb.RenameRegisteredModel.Response(registered_model=registered_entity(registered).to_proto()))


@endpoint(methods=("PATCH",), perm=Perm.DATA_WRITE)
def update_registered_model(call: Call):
    registered = _registered(call, _name(call))
    description = _description_arg(call)
    if description is not None:
        registered.description = description
        registered.save(update_fields=["description", "updated_at"])
    return _json(pb.UpdateRegisteredModel.Response(registered_model=registered_entity(registered).to_proto()))


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE)
def delete_registered_model(call: Call):
    """The name and every version of it leave the registry (and the Models section); files stay."""
    registered = _registered(call, _name(call))
    try:
        with transaction.atomic():
            Model.objects.filter(workspace=call.workspace, name=registered.name).delete()
            registered.delete()
    except ProtectedError:
        raise MlflowException(
            f"A version of {registered.name} is still in use in the studio and cannot be deleted.", INVALID_STATE
        ) from None
    return {}


@endpoint(methods=("GET", "POST"), perm=Perm.DATA_READ)
def search_registered_models(call: Call):
    _ensure_row_for_every_name(call.workspace)
    filter_string = _filter(call)
    order_by = _order_by(call)
    rows = list(RegisteredModelRow.objects.filter(workspace=call.workspace).prefetch_related("aliases"))
    versions: dict[str, list[Model]] = {}
    for model in Model.objects.filter(workspace=call.workspace).select_related("datastore", "created_by"):
        versions.setdefault(model.name, []).append(model)
    entities = [registered_entity(row, versions.get(row.name, [])) for row in rows]
    found = SearchModelUtils.sort(SearchModelUtils.filter(entities, filter_string), order_by)
    page, token = _paged(
        found, call, SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD
    )
    response = pb.SearchRegisteredModels.Response(registered_models=[e.to_proto() for e in page])
    if token:
        response.next_page_token = token
    return _json(response)


@endpoint(methods=("GET", "POST"), perm=Perm.DATA_READ)
def get_latest_versions(call: Call):
    registered = _registered(call, _name(call))
    stages = call.get_list("stages")
    if any(not isinstance(stage, str) for stage in stages):
        raise invalid("'stages' must be a list of strings.")
    aliases = _aliases_by_version(registered)
    latest = _latest_per_stage(list(_versions(call.workspace, registered.name)), stages)
    entities = [version_entity(m, aliases.get(m.version)).to_proto() for m in latest]
    return _json(pb.GetLatestVersions.Response(model_versions=entities))


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def set_registered_model_tag(call: Call):
    registered = _registered(call, _name(call))
    key, value = call.require("key"), call.get("value")
    value = "" if value is None else str(value)
    check_value_length("tag", key, value, validation.MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH)
    validation.registered_model_tag(key, value)
    tags = dict(registered.tags or {})
    tags[key] = value
    if len(tags) > MAX_MAP_ITEMS:
        raise invalid(f"At most {MAX_MAP_ITEMS} tags.")
    registered.tags = tags
    registered.save(update_fields=["tags", "updated_at"])
    return {}


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE)
def delete_registered_model_tag(call: Call):
    registered = _registered(call, _name(call))
    key = call.require("key")
    tags = dict(registered.tags or {})
    if tags.pop(key, None) is not None:
        registered.tags = tags
        registered.save(update_fields=["tags", "updated_at"])
    return {}


@endpoint(methods=("GET", "POST", "DELETE"), perm=Perm.DATA_READ)
def registered_model_alias(call: Call):
    """GET: the version an alias names; POST: set an alias; DELETE: remove it."""
    if call.request.method in ("POST", "DELETE") and not call.access.allows(Perm.DATA_WRITE):
        raise MlflowException(
            f"Your role ({call.access.role_label}) in {call.workspace.name} does not allow this.", PERMISSION_DENIED
        )
    registered = _registered(call, _name(call))
    alias = call.require("alias")
    if not isinstance(alias, str):
        raise invalid("'alias' must be a string.")
    validation.alias_name(alias)
    if call.request.method == "GET":
        if alias.lower() == "latest":
            versions = [m for m in _versions(call.workspace, registered.name)]
            if not versions:
                raise not_found(f"Registered model {registered.name} has no versions.")
            model = max(versions, key=_version_key)
        else:
            found = registered.aliases.filter(alias=alias).first()
            if found is None:
                raise not_found(f"Registered model alias {alias} not found.")
            model = _model_version(call, registered.name, found.version)
        return _json(pb.GetModelVersionByAlias.Response(model_version=_json_version(model)))
    if call.request.method == "DELETE":
        registered.aliases.filter(alias=alias).delete()
        return {}
    validation.alias_not_reserved(alias)
    model = _model_version(call, registered.name, _version_arg(call))
    ModelAlias.objects.update_or_create(registered_model=registered, alias=alias, defaults={"version": model.version})
    registered.save(update_fields=["updated_at"])
    return {}


registered_model_alias.studio_access = {"scope": "workspace", "read": Perm.DATA_READ, "write": Perm.DATA_WRITE}


def _json_version(model: Model):
    registered = RegisteredModelRow.objects.filter(workspace=model.workspace, name=model.name).first()
    aliases = _aliases_by_version(registered).get(model.version, []) if registered else []
    return version_entity(model, aliases).to_proto()


# Model versions ---------------------------------------------------------------------------------


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def create_model_version(call: Call):
    name = _checked_new_name(_name(call))
    tags = _tags_arg(call, validation.model_version_tag)
    datastore, path = resolve_source(call, call.get("source"))
    _refuse_prompt(tags)
    run_id = call.get("run_id") or ""
    if run_id and not Job.objects.filter(workspace=call.workspace, name=str(run_id)[:256]).exists():
        raise invalid(f"'run_id': this workspace has no run {str(run_id)[:100]!r}.")
    model_id = call.get("model_id") or ""
    if model_id and not LoggedModel.objects.filter(workspace=call.workspace, model_id=str(model_id)).exists():
        raise invalid(f"'model_id': this workspace has no logged model {str(model_id)[:100]!r}.")
    source = call.get("source")
    if not run_id and source.startswith("runs:/"):
        run_id = source[len("runs:/") :].partition("/")[0]
    if not model_id and source.startswith("models:/") and "/" not in source[len("models:/") :]:
        model_id = source[len("models:/") :]
        if "@" in model_id:
            model_id = ""
    if model_id and not run_id:
        logged = LoggedModel.objects.filter(workspace=call.workspace, model_id=str(model_id)).first()
        run_id = logged.source_run.name if logged and logged.source_run_id else ""
    properties = {}
    run_link = call.get("run_link")
    if isinstance(run_link, str) and run_link:
        properties[RUN_LINK_PROPERTY] = run_link[:2000]
    _require_registered(call, name)
    try:
        model = model_services.model_create_from_mlflow(
            workspace=call.workspace,
            user=call.user,
            name=name,
            datastore=datastore,
            path=path,
            description=_description_arg(call) or "",
            tags=tags,
            source=source,
            run_id=str(run_id),
            model_id=str(model_id),
            properties=properties,
        )
    except DuplicateVersion as exc:
        raise MlflowException(" ".join(exc.messages), RESOURCE_ALREADY_EXISTS) from None
    except ValidationError as exc:
        raise _validation_error(exc) from None
    except DatastoreUnavailable as exc:
        raise invalid(f"'source': {exc}") from None
    model = _versions(call.workspace, name).get(pk=model.pk)
    return _json(pb.CreateModelVersion.Response(model_version=_json_version(model)))


def _require_registered(call: Call, name: str) -> None:
    """A version needs its registered model first (as in MLflow); a name the studio knows only from
    its versions counts."""
    if not RegisteredModelRow.objects.filter(workspace=call.workspace, name=name).exists():
        if not Model.objects.filter(workspace=call.workspace, name=name).exists():
            raise not_found(f"Registered Model with name={name[:256]} not found")


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get_model_version(call: Call):
    return _json(pb.GetModelVersion.Response(model_version=_json_version(_model_version(call))))


@endpoint(methods=("PATCH",), perm=Perm.DATA_WRITE)
def update_model_version(call: Call):
    model = _model_version(call)
    description = _description_arg(call)
    if description is not None:
        model_services.model_update(model=model, description=description)
    return _json(pb.UpdateModelVersion.Response(model_version=_json_version(model)))


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE)
def delete_model_version(call: Call):
    try:
        model_services.model_delete(model=_model_version(call))
    except ProtectedError:
        raise MlflowException("This model version is still in use in the studio and cannot be deleted.", INVALID_STATE)
    return {}


@endpoint(methods=("GET", "POST"), perm=Perm.DATA_READ)
def search_model_versions(call: Call):
    filter_string = _filter(call)
    order_by = _order_by(call)
    parsed = SearchModelVersionUtils.parse_search_filter(filter_string)
    models = Model.objects.filter(workspace=call.workspace).select_related("datastore", "created_by")
    for clause in parsed:
        if clause["type"] == "attribute" and clause["key"] == "name" and clause["comparator"] == "=":
            models = models.filter(name=clause["value"])
        elif clause["type"] == "attribute" and clause["key"] == "run_id" and clause["comparator"] == "=":
            models = models.filter(job_name=clause["value"])
    models = list(models)
    aliases: dict[tuple[str, str], list[str]] = {}
    names = {m.name for m in models}
    for alias in ModelAlias.objects.filter(
        registered_model__workspace=call.workspace, registered_model__name__in=names
    ):
        aliases.setdefault((alias.registered_model.name, alias.version), []).append(alias.alias)
    entities = [version_entity(m, aliases.get((m.name, m.version))) for m in models]
    found = _matching(entities, filter_string)
    found = _sort_versions(found, order_by)
    page, token = _paged(
        found, call, SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
    )
    response = pb.SearchModelVersions.Response(model_versions=[e.to_proto() for e in page])
    if token:
        response.next_page_token = token
    return _json(response)


def _matching(entities: list[ModelVersion], filter_string: str) -> list[ModelVersion]:
    try:
        return SearchModelVersionUtils.filter(entities, filter_string)
    except TypeError:  # a numeric comparison with a version the studio named with letters: that one fails
        return [e for e in entities if _matches(e, filter_string)]


def _matches(entity: ModelVersion, filter_string: str) -> bool:
    try:
        return bool(SearchModelVersionUtils.filter([entity], filter_string))
    except TypeError:
        return False


def _sort_versions(entities: list[ModelVersion], order_by: list[str]) -> list[ModelVersion]:
    """MLflow's order (name ascending, version descending unless ordered otherwise), with studio
    versions that are not numbers after the numbered ones."""
    keys = []
    for clause in order_by:
        _type, key, ascending = SearchModelVersionUtils.parse_order_by_for_search_model_versions(clause)
        keys.append(("version" if key == "version_number" else key, ascending))
    if not any(key == "name" for key, _ in keys):
        keys.append(("name", True))
    if not any(key == "version" for key, _ in keys):
        keys.append(("version", False))
    result = list(entities)
    for key, ascending in reversed(keys):
        result.sort(key=lambda e, k=key: _sort_value(e, k), reverse=not ascending)
    return result


def _sort_value(entity: ModelVersion, key: str):
    value = getattr(entity, key)
    if key == "version":
        return (0, value, "") if isinstance(value, int) else (1, 0, str(value))
    return (value is None, value if value is not None else 0)


@endpoint(methods=("GET",), perm=Perm.DATA_READ)
def get_model_version_download_uri(call: Call):
    model = _model_version(call)
    return {"artifact_uri": artifact_uri(model.datastore.name, model.path)}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def set_model_version_tag(call: Call):
    model = _model_version(call)
    key, value = call.require("key"), call.get("value")
    value = "" if value is None else str(value)
    check_value_length("tag", key, value, validation.MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH)
    validation.model_version_tag(key, value)
    _refuse_prompt({key: value})
    try:
        model_services.model_update(model=model, tags={**(model.tags or {}), key: value})
    except ValidationError as exc:
        raise _validation_error(exc) from None
    return {}


@endpoint(methods=("DELETE",), perm=Perm.DATA_WRITE)
def delete_model_version_tag(call: Call):
    model = _model_version(call)
    key = call.require("key")
    tags = dict(model.tags or {})
    if tags.pop(key, None) is not None:
        model_services.model_update(model=model, tags=tags)
    return {}


@endpoint(methods=("POST",), perm=Perm.DATA_WRITE)
def transition_model_version_stage(call: Call):
    """Stages as the studio keeps them: "Archived" archives the version, the others unarchive it."""
    model = _model_version(call)
    stage = call.require("stage")
    if not isinstance(stage, str):
        raise invalid("'stage' must be a string.")
    stage = get_canonical_stage(stage)
    archive_others = str(call.get("archive_existing_versions", False)).lower() == "true"
    with transaction.atomic():
        if archive_others and stage not in (STAGE_NONE, STAGE_ARCHIVED):
            for other in _versions(call.workspace, model.name).exclude(pk=model.pk):
                if _stage(other) == stage:
                    _set_stage(other, STAGE_ARCHIVED)
        _set_stage(model, stage)
    return _json(pb.TransitionModelVersionStage.Response(model_version=_json_version(model)))


def _set_stage(model: Model, stage: str) -> None:
    properties = dict(model.properties or {})
    properties.pop(STAGE_PROPERTY, None)
    if stage not in (STAGE_NONE, STAGE_ARCHIVED):
        properties[STAGE_PROPERTY] = stage
    model.properties = properties
    model.is_archived = stage == STAGE_ARCHIVED
    model.save(update_fields=["properties", "is_archived", "updated_at"])


ROUTES = [
    ("registered-models/create", create_registered_model),
    ("registered-models/get", get_registered_model),
    ("registered-models/rename", rename_registered_model),
    ("registered-models/update", update_registered_model),
    ("registered-models/delete", delete_registered_model),
    ("registered-models/search", search_registered_models),
    ("registered-models/get-latest-versions", get_latest_versions),
    ("registered-models/set-tag", set_registered_model_tag),
    ("registered-models/delete-tag", delete_registered_model_tag),
    ("registered-models/alias", registered_model_alias),
    ("model-versions/create", create_model_version),
    ("model-versions/get", get_model_version),
    ("model-versions/update", update_model_version),
    ("model-versions/delete", delete_model_version),
    ("model-versions/search", search_model_versions),
    ("model-versions/get-download-uri", get_model_version_download_uri),
    ("model-versions/set-tag", set_model_version_tag),
    ("model-versions/delete-tag", delete_model_version_tag),
    ("model-versions/transition-stage", transition_model_version_stage),
]

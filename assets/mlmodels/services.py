"""Every write to models: register a version (from uploaded files, a datastore path or a model YAML),
edit its description and tags (archive and restore: assets/versioning.py).

A registered model points at a file or folder in a datastore. Uploaded files go to the workspace's
default datastore under a generated folder, `LocalUpload/<32 hex>/<file or folder name>`, as Azure
ML does; the user's file names are kept below that folder only after `clean_path` accepts them.
"""

import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from assets.models import Model, ModelAlias, ModelType, RegisteredModel
from assets.versioning import DuplicateVersion, create_version, validate_name_and_version
from workspaces.models import Datastore, Workspace
from workspaces.paths import clean_path, join, parse_datastore_uri
from workspaces.selectors import datastore_by_name, default_datastore
from workspaces.services import datastore_upload_files
from workspaces.storage import datastore_storage, delete_tree, is_folder, path_exists

from .mlmodel import MlflowModel, model_file_reader, read_mlmodel
from .spec import ModelYaml, parse_model_yaml

UPLOAD_FOLDER = "LocalUpload"
MAX_DESCRIPTION = 50_000
MAX_MAP_ITEMS = 100
MAX_KEY = 255
MAX_VALUE = 5_000


@dataclass
class ModelFields:
    """What a person says about a model version, whatever its files' source."""

    name: str
    version: str | None = None
    type: str = ModelType.CUSTOM
    description: str = ""
    tags: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)


def _check_map(value, field_name: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError({field_name: 'Give a mapping of names to values, e.g. {"team": "risk"}.'})
    if len(value) > MAX_MAP_ITEMS:
        raise ValidationError({field_name: f"At most {MAX_MAP_ITEMS} entries."})
    out = {}
    for key, item in value.items():
        key = str(key).strip()
        text = "" if item is None else str(item)
        if not key or len(key) > MAX_KEY:
            raise ValidationError({field_name: f"Each name must have 1 to {MAX_KEY} characters."})
        if len(text) > MAX_VALUE:
            raise ValidationError({field_name: f"The value of {key!r} is longer than {MAX_VALUE} characters."})
        out[key] = text
    return out


def validate_fields(fields: ModelFields) -> ModelFields:
    """The fields, cleaned; a ValidationError names each bad one."""
    errors = {}
    name = (fields.name or "").strip()
    version = (fields.version or "").strip() or None
    try:
        validate_name_and_version(model=Model, name=name, version=version)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if fields.type not in ModelType.values:
        errors["type"] = [f"Unknown model type {fields.type!r}; use one of {', '.join(ModelType.values)}."]
    if len(fields.description or "") > MAX_DESCRIPTION:
        errors["description"] = [f"At most {MAX_DESCRIPTION:,} characters."]
    maps = {}
    for attr in ("tags", "properties"):
        try:
            maps[attr] = _check_map(getattr(fields, attr) or {}, attr)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return ModelFields(name=name, version=version, type=fields.type, description=fields.description or "", **maps)


def _ensure_new_version(workspace: Workspace, fields: ModelFields) -> None:
    if fields.version and Model.objects.filter(workspace=workspace, name=fields.name, version=fields.version).exists():
        raise DuplicateVersion(f"models asset {fields.name}:{fields.version} already exists in {workspace.name}.")


def _mlflow(fields: ModelFields, read) -> MlflowModel | None:
    return read_mlmodel(read, model_type_field="path") if fields.type == ModelType.MLFLOW else None


def registered_model_ensure(*, workspace: Workspace, name: str) -> RegisteredModel:
    """The registry's row for the model name `name` (what MLflow calls a registered model), created
    with the name's first version; its last-updated time moves with each new version."""
    registered, created = RegisteredModel.objects.get_or_create(workspace=workspace, name=name)
    if not created:
        registered.save(update_fields=["updated_at"])
    return registered


def _create(
    *, workspace, user, fields: ModelFields, datastore: Datastore, path: str, mlflow: MlflowModel | None, **extra
):
    with transaction.atomic():
        model = create_version(
            model=Model,
            workspace=workspace,
            name=fields.name,
            version=fields.version,
            type=fields.type,
            description=fields.description,
            tags=fields.tags,
            properties=fields.properties,
            datastore=datastore,
            path=path,
            flavors=mlflow.flavors if mlflow else {},
            signature=mlflow.signature if mlflow else {},
            input_example=mlflow.input_example if mlflow else None,
            created_by=user,
            **extra,
        )
        registered_model_ensure(workspace=workspace, name=fields.name)
    return model


# From uploaded files ------------------------------------------------------------------------------


def upload_layout(names: list[str], *, fallback: str, field_name: str = "relative_paths") -> tuple[str, list[str]]:
    """(the model's path inside the upload folder, each file's path inside the upload folder).

    One file `model.pkl` is the model itself; files that all sit in one folder (`iris/MLmodel`,
    `iris/model.pkl`: a folder upload) make that folder the model; loose files are put in a folder
    named `fallback` (the model's name).
    """
    if not names:
        raise ValidationError({"files": "Choose the model's file or folder to upload."})
    cleaned = [clean_path(name, field=field_name, allow_root=False) for name in names]
    if len(set(cleaned)) != len(cleaned):
        raise ValidationError({field_name: "The same file path is given twice."})
    if len(cleaned) == 1 and "/" not in cleaned[0]:
        return cleaned[0], cleaned
    tops = {name.split("/", 1)[0] for name in cleaned}
    if len(tops) == 1 and all("/" in name for name in cleaned):
        return tops.pop(), cleaned
    return fallback, [join(fallback, name) for name in cleaned]


def _upload_reader(files: dict):
    """read(path, limit) over uploaded files (before anything is stored)."""

    def read(path: str, limit: int) -> bytes | None:
        upload = files.get(path)
        if upload is None:
            return None
        upload.seek(0)
        content = upload.read(limit + 1)
        upload.seek(0)
        return content

    return read


def model_create_from_upload(
    *, workspace: Workspace, user, fields: ModelFields, files: list[tuple[str, object]]
) -> Model:
    """Register uploaded files (a file, or a folder's files with their relative paths) as a model.

    Everything is checked before anything is written; if the version cannot be created, the files
    written are removed again.
    """
    fields = validate_fields(fields)
    root, targets = upload_layout([name for name, _ in files], fallback=fields.name)
    by_path = {target: upload for target, (_, upload) in zip(targets, files, strict=True)}
    mlflow = _mlflow(fields, model_file_reader(_upload_reader(by_path), root))
    if fields.type == ModelType.TRITON and "/" not in targets[0] and len(targets) == 1:
        raise ValidationError({"path": "A triton_model is a folder (a Triton model repository), not one file."})
    _ensure_new_version(workspace, fields)
    datastore = default_datastore(workspace=workspace)
    folder = join(UPLOAD_FOLDER, uuid.uuid4().hex)
    datastore_upload_files(
        datastore=datastore, folder=folder, files=[(t, by_path[t]) for t in targets], names_field="relative_paths"
    )
    try:
        return _create(
            workspace=workspace, user=user, fields=fields, datastore=datastore, path=join(folder, root), mlflow=mlflow
        )
    except BaseException:
        delete_tree(datastore_storage(datastore), folder)
        raise


# From a datastore path -----------------------------------------------------------------------------


def _storage_reader(storage):
    def read(path: str, limit: int) -> bytes | None:
        if not storage.exists(path) or is_folder(storage, path):
            return None
        with storage.open(path, "rb") as handle:
            return handle.read(limit + 1)

    return read


def resolve_datastore_path(*, workspace: Workspace, path: str, datastore: str = "") -> tuple[Datastore, str]:
    """(datastore, path inside it) for `azureml://datastores/<name>/paths/<path>` or a datastore name
    and a relative path; the datastore must belong to the workspace."""
    path = (path or "").strip()
    if path.startswith("azureml://datastores/"):
        datastore, path = parse_datastore_uri(path, field="path")
    elif path.startswith(("azureml:", "runs:", "models:")) or "://" in path:
        raise ValidationError(
            {
                "path": "Give a datastore path as azureml://datastores/<name>/paths/<path>; job outputs "
                "(azureml://jobs/<job>/outputs/<output>) are registered from the job; other URIs cannot be yet."
            }
        )
    else:
        path = clean_path(path, field="path", allow_root=False)
    if not path:
        raise ValidationError({"path": "Give the model's file or folder inside the datastore, not its root."})
    found = (
        datastore_by_name(workspace=workspace, name=datastore) if datastore else default_datastore(workspace=workspace)
    )
    if found is None:
        raise ValidationError({"datastore": f"No datastore named {datastore!r} in {workspace.name}."})
    return found, path


def model_create_from_datastore(
    *, workspace: Workspace, user, fields: ModelFields, path: str, datastore: str = ""
) -> Model:
    """Register a file or folder already in a datastore (nothing is copied)."""
    fields = validate_fields(fields)
    found, path = resolve_datastore_path(workspace=workspace, path=path, datastore=datastore)
    storage = datastore_storage(found)
    if not path_exists(storage, path):
        raise ValidationError({"path": f"Nothing at {found.uri(path)}."})
    folder = is_folder(storage, path)
    if fields.type in (ModelType.MLFLOW, ModelType.TRITON) and not folder:
        raise ValidationError({"path": f"A {fields.type} is a folder, and {found.uri(path)} is a file."})
    mlflow = _mlflow(fields, model_file_reader(_storage_reader(storage), path))
    return _create(workspace=workspace, user=user, fields=fields, datastore=found, path=path, mlflow=mlflow)


# From a job's files (azureml://jobs/...): the jobs app knows jobs and fills this in (jobs.apps) -----

_job_output_registrar = None


def register_job_output_registrar(registrar) -> None:
    """`registrar(*, workspace, user, fields, uri) -> Model` registers a model from a job's files."""
    global _job_output_registrar
    _job_output_registrar = registrar


def model_create_from_job_output(*, workspace: Workspace, user, fields: ModelFields, uri: str) -> Model:
    """azureml://jobs/<job>/outputs/<output> or azureml://jobs/<job>/outputs/artifacts/paths/<path>."""
    if _job_output_registrar is None:
        raise ValidationError({"path": "Job outputs cannot be registered in this studio."})
    return _job_output_registrar(workspace=workspace, user=user, fields=fields, uri=uri)


# From MLflow's model registry ---------------------------------------------------------------------


def model_create_from_mlflow(
    *,
    workspace: Workspace,
    user,
    name: str,
    datastore: Datastore,
    path: str,
    description: str = "",
    tags: dict | None = None,
    source: str = "",
    run_id: str = "",
    model_id: str = "",
    properties: dict | None = None,
) -> Model:
    """A new version of `name` for the files at `path` (already in one of the workspace's datastores;
    nothing is copied), as MLflow's create_model_version asks. The version is the next number. A folder
    with a readable MLmodel file is an mlflow_model with its flavors and signature; anything else is a
    custom_model (MLflow registers whatever the source holds)."""
    fields = validate_fields(
        ModelFields(name=name, description=description, tags=tags or {}, properties=properties or {})
    )
    storage = datastore_storage(datastore)
    mlflow = None
    if is_folder(storage, path):
        try:
            mlflow = read_mlmodel(model_file_reader(_storage_reader(storage), path))
        except ValidationError:
            mlflow = None
    fields.type = ModelType.MLFLOW if mlflow else ModelType.CUSTOM
    return _create(
        workspace=workspace,
        user=user,
        fields=fields,
        datastore=datastore,
        path=path,
        mlflow=mlflow,
        source=source,
        job_name=run_id,
        model_id=model_id,
        status="READY",
    )


# From a model YAML --------------------------------------------------------------------------------


def model_create_from_yaml(
    *,
    workspace: Workspace,
    user,
    yaml_text: str,
    files: list[tuple[str, object]] = (),
    name: str = "",
    version: str = "",
) -> Model:
    """Register the model a YAML describes; its local `path` arrives as uploaded `files`, a datastore
    path is used where it is. `name` and `version` override the YAML's (`az ml model create --version`).
    Every error names its field and, for fields of the YAML, the line."""
    spec: ModelYaml = parse_model_yaml(yaml_text)
    fields = ModelFields(
        name=name or spec.name,
        version=version or spec.version,
        type=spec.type,
        description=spec.description,
        tags=spec.tags,
        properties=spec.properties,
    )
    try:
        if spec.is_local_path:
            if not files:
                raise ValidationError(
                    {"path": f"The YAML's path {spec.path!r} is on your machine: upload its files with the YAML."}
                )
            return model_create_from_upload(workspace=workspace, user=user, fields=fields, files=list(files))
        if files:
            raise ValidationError({"files": "The YAML's path is in a datastore; upload no files with it."})
        return model_create_from_datastore(workspace=workspace, user=user, fields=fields, path=spec.path)
    except DuplicateVersion:
        raise
    except ValidationError as exc:
        raise spec.with_lines(exc) from exc


# Changes ----------------------------------------------------------------------------------------


@transaction.atomic
def model_update(*, model: Model, description: str | None = None, tags: dict | None = None) -> Model:
    """Azure ML lets a version's description and tags change; its files and type never do."""
    changed = []
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise ValidationError({"description": f"At most {MAX_DESCRIPTION:,} characters."})
        model.description = description
        changed.append("description")
    if tags is not None:
        model.tags = _check_map(tags, "tags")
        changed.append("tags")
    if changed:
        model.save(update_fields=[*changed, "updated_at"])
    return model


@transaction.atomic
def model_delete(*, model: Model) -> None:
    """Remove one version from the registry (MLflow's delete_model_version). Its files stay where they
    are (a run's artifacts or an upload); aliases that pointed at it go. The registered model stays,
    with its description and tags, even when this was its last version, as in MLflow."""
    ModelAlias.objects.filter(
        registered_model__workspace_id=model.workspace_id, registered_model__name=model.name, version=model.version
    ).delete()
    RegisteredModel.objects.filter(workspace_id=model.workspace_id, name=model.name).update(updated_at=timezone.now())
    model.delete()

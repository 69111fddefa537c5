"""Every write to components: register a version from its YAML and code folder
(archive and restore: assets/versioning.py).

The code folder's files are stored as a snapshot in the workspace's default datastore under a
generated folder, `LocalUpload/<32 hex>/<code folder name>`, as Azure ML does; the stored spec's
`code` then points there (azureml://datastores/<default>/paths/LocalUpload/...).
"""

import re
import uuid

from django.core.exceptions import ValidationError

from assets.models import Component, Environment
from assets.references import resolve
from assets.versioning import DuplicateVersion, create_version
from assets.yaml_errors import with_lines
from workspaces.models import Workspace
from workspaces.paths import clean_path, join
from workspaces.selectors import default_datastore
from workspaces.services import datastore_upload_files
from workspaces.storage import datastore_storage, delete_tree

from .spec import ComponentSpec, parse_component_yaml

UPLOAD_FOLDER = "LocalUpload"
_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)/"
    r"(?:versions/(?P<version>[^/]+)|labels/(?P<label>[^/]+))/?$"
)


def resolve_environment(*, workspace: Workspace, environment) -> Environment | None:
    """The registered (or curated) environment a component names; None for an inline one.

    `azureml:name:version`, `azureml:name@latest` and Azure ML's registry form
    `azureml://registries/azureml/environments/<name>/versions/<v>` (or `/labels/latest`), which
    names the studio's curated environments."""
    if not isinstance(environment, str):
        return None
    registry = _REGISTRY.match(environment.strip())
    if registry:
        ref = f"{registry['name']}:{registry['version']}" if registry["version"] else f"{registry['name']}@latest"
        if registry["label"] not in (None, "latest"):
            raise ValidationError({"environment": f"Unknown label {registry['label']!r}; use labels/latest."})
        found = resolve(workspace=workspace, kind="environments", ref=ref, field="environment")
        if not found.is_curated:
            raise ValidationError({"environment": f"No curated environment {ref} (registry {registry['registry']})."})
        return found
    return resolve(workspace=workspace, kind="environments", ref=environment, field="environment")


def _code_folder_name(code: str) -> str:
    name = code.rstrip("/").rsplit("/", 1)[-1]
    return name if name and name not in (".", "..") else "code"


def component_create(
    *,
    workspace: Workspace,
    user,
    yaml_text: str,
    code_files: list[tuple[str, object]] = (),
    conda_file: str | None = None,
) -> Component:
    """Register the component `yaml_text` describes, with its code folder's files (paths relative to
    that folder). Everything is checked before anything is written: a bad field is a ValidationError
    naming it and its line; nothing is created."""
    spec: ComponentSpec = parse_component_yaml(yaml_text, conda_file=conda_file)
    try:
        resolve_environment(workspace=workspace, environment=spec.environment)
    except ValidationError as exc:
        raise with_lines(exc, spec.node) from exc
    code_files = list(code_files)
    if spec.code is None and code_files:
        raise ValidationError({"code": "Files were uploaded but the YAML names no code folder (code: ./src)."})
    if spec.code is not None and not code_files:
        raise ValidationError(
            {"code": f"Upload the files of the code folder {spec.code!r} with the YAML (line {spec.line(['code'])})."}
        )
    targets = [clean_path(name, field="relative_paths", allow_root=False) for name, _ in code_files]
    if len(set(targets)) != len(targets):
        raise ValidationError({"relative_paths": "The same file path is given twice."})
    if spec.version and Component.objects.filter(workspace=workspace, name=spec.name, version=spec.version).exists():
        raise DuplicateVersion(f"components asset {spec.name}:{spec.version} already exists in {workspace.name}.")

    datastore = default_datastore(workspace=workspace)
    folder = join(UPLOAD_FOLDER, uuid.uuid4().hex)
    code_path = ""
    data = {**spec.data, "version": spec.version}
    if spec.code is not None:
        code_path = join(folder, _code_folder_name(spec.code))
        datastore_upload_files(
            datastore=datastore,
            folder=code_path,
            files=[(t, upload) for t, (_, upload) in zip(targets, code_files, strict=True)],
            names_field="relative_paths",
        )
        data["code"] = datastore.uri(code_path + "/")
    try:
        component = create_version(
            model=Component,
            workspace=workspace,
            name=spec.name,
            version=spec.version,
            type="command",
            display_name=spec.display_name[:255],
            description=spec.description,
            tags=spec.tags,
            spec=data,
            yaml=yaml_text,
            datastore=datastore if code_path else None,
            code_path=code_path,
            created_by=user,
        )
    except DuplicateVersion:
        _discard(datastore, folder, code_path)
        raise
    except ValidationError as exc:
        _discard(datastore, folder, code_path)
        raise with_lines(exc, spec.node) from exc
    except BaseException:
        _discard(datastore, folder, code_path)
        raise
    if component.version != data.get("version"):
        component.spec = {**data, "version": component.version}
        Component.objects.filter(pk=component.pk).update(spec=component.spec)
    return component


def _discard(datastore, folder: str, code_path: str) -> None:
    if code_path:
        delete_tree(datastore_storage(datastore), folder)

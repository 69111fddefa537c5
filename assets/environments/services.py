"""Writes for environments: create (from fields, a conda file, pip requirements or Azure ML YAML),
build and rebuild, describe, tag (archive and restore: assets/versioning.py).

An environment's spec resolves to a Python version plus pip requirements; its hash names one
EnvironmentBuild (one virtualenv in the registry), shared by every environment with the same spec.
"""

import re
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from assets.models import BuildStatus, Environment, EnvironmentBuild
from assets.versioning import create_version
from workspaces.models import Workspace

from . import envbuild
from .packages import ResolvedSpec, load_conda_yaml, resolve_conda, resolve_pip
from .spec import parse_environment_yaml

DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
# A build still "Building" this long after it started lost its worker; it may be started again.
STALE_BUILD_AFTER = timedelta(seconds=2 * envbuild.DEFAULT_TIMEOUT + 600)
MAX_SPEC_BYTES = 64 * 1024
MAX_TAGS = 50
_PYTHON = re.compile(r"^3\.\d{1,2}$")


def _enqueue(build: EnvironmentBuild) -> None:
    from .tasks import build_environment

    build_environment.delay_on_commit(build.pk)


def build_scope(workspace: Workspace | None) -> str:
    """Builds are shared within one workspace (or among the curated environments), never across."""
    return workspace.guid.hex if workspace is not None else ""


def resolve_spec(
    *, conda_file: str = "", pip_requirements: str = "", python: str = "", scope: str = ""
) -> ResolvedSpec:
    """The resolved spec of a conda file or a pip requirements list (or neither: a bare Python)."""
    errors = {}
    if conda_file.strip() and pip_requirements.strip():
        errors["pip_requirements"] = "Give either a conda file or pip requirements, not both."
    for name, value in (("conda_file", conda_file), ("pip_requirements", pip_requirements)):
        if len(value.encode()) > MAX_SPEC_BYTES:
            errors[name] = f"is larger than {MAX_SPEC_BYTES // 1024} KB."
    if python and not _PYTHON.match(python):
        errors["python"] = f"{python!r} is not a Python version; give major.minor, e.g. 3.11."
    if errors:
        raise ValidationError(errors)
    if conda_file.strip():
        return resolve_conda(load_conda_yaml(conda_file)).scoped(scope)
    return resolve_pip(pip_requirements, python=python).scoped(scope)


def environment_build_for_spec(*, spec: ResolvedSpec) -> EnvironmentBuild:
    """The build for `spec`: the existing one when the same spec was built (or is building) before,
    else a new one, queued. A Succeeded build whose virtualenv has gone from the registry is queued again."""
    build, created = EnvironmentBuild.objects.get_or_create(spec_hash=spec.hash, defaults={"spec": spec.as_dict()})
    if created:
        _enqueue(build)
    elif build.status == BuildStatus.SUCCEEDED and not envbuild.is_built(build.spec_hash):
        if EnvironmentBuild.objects.filter(pk=build.pk, status=BuildStatus.SUCCEEDED).update(
            status=BuildStatus.NOT_STARTED, error="", started_at=None, finished_at=None
        ):
            build.refresh_from_db()
            _enqueue(build)
    elif build.status == BuildStatus.NOT_STARTED:
        _enqueue(build)  # harmless if already queued: the task claims the row first
    return build


def _validate_fields(*, name: str, image: str, tags: dict) -> None:
    errors = {}
    if (name or "").lower().startswith("azureml"):
        errors["name"] = "Names starting with 'AzureML' are reserved for curated environments."
    if len(image) > 500:
        errors["image"] = "is longer than 500 characters."
    if not isinstance(tags, dict) or len(tags) > MAX_TAGS:
        errors["tags"] = f"must be a mapping of at most {MAX_TAGS} tags."
    elif any(len(str(k)) > 256 or len(str(v)) > 1024 for k, v in tags.items()):
        errors["tags"] = "Tag names are at most 256 characters and values at most 1024."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def environment_create(
    *,
    workspace: Workspace,
    user,
    name: str,
    version: str | None = None,
    description: str = "",
    tags: dict | None = None,
    image: str = "",
    conda_file: str = "",
    pip_requirements: str = "",
    python: str = "",
) -> Environment:
    """A new environment version; its build is shared with any environment of the same spec."""
    tags = {} if tags is None else tags
    tags = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else tags
    _validate_fields(name=name, image=image, tags=tags)
    spec = resolve_spec(
        conda_file=conda_file, pip_requirements=pip_requirements, python=python, scope=build_scope(workspace)
    )
    build = environment_build_for_spec(spec=spec)
    return create_version(
        model=Environment,
        workspace=workspace,
        name=name,
        version=version,
        description=description,
        tags=tags,
        image=image or DEFAULT_IMAGE,
        conda_file=conda_file if conda_file.strip() else "",
        pip_requirements=pip_requirements if pip_requirements.strip() else "",
        build=build,
        created_by=user,
    )


def environment_create_from_yaml(
    *,
    workspace: Workspace,
    user,
    yaml_text: str,
    conda_file: str | None = None,
    name: str | None = None,
    version: str | None = None,
) -> Environment:
    """`az ml environment create -f env.yml`: the YAML, and the content of the conda file it names."""
    spec = parse_environment_yaml(yaml_text, conda_file=conda_file)
    return environment_create(
        workspace=workspace,
        user=user,
        name=name or spec.name,
        version=version or spec.version,
        description=spec.description,
        tags=spec.tags,
        image=spec.image,
        conda_file=spec.conda_file,
    )


@transaction.atomic
def environment_build_start(*, environment: Environment) -> EnvironmentBuild:
    """Build an environment that has none yet (a curated one), or build a Failed one again ("Rebuild").
    A build that is queued, building or built is left as it is."""
    build = environment.build
    if build is None:
        spec = resolve_spec(
            conda_file=environment.conda_file,
            pip_requirements=environment.pip_requirements,
            scope=build_scope(environment.workspace),
        )
        build = environment_build_for_spec(spec=spec)
        Environment.objects.filter(pk=environment.pk).update(build=build)
        environment.build = build
        return build
    stale = timezone.now() - STALE_BUILD_AFTER
    retryable = Q(status=BuildStatus.FAILED) | Q(status=BuildStatus.BUILDING, started_at__lt=stale)
    retried = EnvironmentBuild.objects.filter(retryable, pk=build.pk).update(
        status=BuildStatus.NOT_STARTED, error="", started_at=None, finished_at=None
    )
    if retried:
        build.refresh_from_db()
        _enqueue(build)
        return build
    return environment_build_for_spec(spec=ResolvedSpec.from_dict(build.spec))


def environment_update(*, environment: Environment, description: str | None = None, tags: dict | None = None):
    environment.check_changeable()
    if tags is not None:
        tags = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else tags
        _validate_fields(name="", image="", tags=tags)
        environment.tags = tags
    if description is not None:
        environment.description = description
    environment.save(update_fields=["tags", "description"])
    return environment

"""Creating a new version of an asset: the version is given or the next number; a duplicate
name + version is a conflict (409) naming both."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import AlreadyExists

from .models import VersionedAsset
from .references import next_version


class DuplicateVersion(AlreadyExists):
    """name:version exists already: a form error on `version`, 409 from the API."""

    def __init__(self, message: str):
        super().__init__({"version": message})


def validate_name_and_version(*, model: type[VersionedAsset], name: str, version: str | None) -> None:
    errors = {}
    try:
        model._meta.get_field("name").run_validators(name or "")
        if not name:
            raise ValidationError("Enter a name.")
    except ValidationError as exc:
        errors["name"] = exc.messages[0]
    if version:
        try:
            model._meta.get_field("version").run_validators(version)
        except ValidationError as exc:
            errors["version"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)


def create_version(*, model: type[VersionedAsset], workspace, name: str, version: str | None, **fields):
    """Insert the row; raises DuplicateVersion (409) if `name`:`version` exists in the workspace."""
    validate_name_and_version(model=model, name=name, version=version)
    version = version or next_version(model=model, workspace=workspace, name=name)
    if model.objects.filter(workspace=workspace, name=name, version=version).exists():
        raise DuplicateVersion(f"{model.kind} asset {name}:{version} already exists in {workspace.name}.")
    try:
        with transaction.atomic():
            return model.objects.create(workspace=workspace, name=name, version=version, **fields)
    except IntegrityError as exc:
        raise DuplicateVersion(f"{model.kind} asset {name}:{version} already exists in {workspace.name}.") from exc

"""`azureml:name:version` and `azureml:name@latest` references to assets, resolved in one place.

Later job specs resolve their `environment`, `inputs` (data, models) and components through here.
"""

import re

from django.core.exceptions import ValidationError
from django.db.models import Q

from workspaces.models import Workspace

from .models import Component, DataAsset, Environment, Model, VersionedAsset
from .versioning import version_or_latest

KINDS: dict[str, type[VersionedAsset]] = {
    "data": DataAsset,
    "environments": Environment,
    "models": Model,
    "components": Component,
}
# azureml:name:version | azureml:name@label | name:version | name@label; also the long form
# azureml:/subscriptions/.../workspaces/<ws>/<kind>/<name>/versions/<version> (the last parts are used).
_SHORT = re.compile(
    r"^(?:azureml:)?(?P<name>[a-zA-Z0-9][a-zA-Z0-9_.-]*)(?::(?P<version>[a-zA-Z0-9][a-zA-Z0-9_.-]*)|@(?P<label>[a-z]+))?$"
)
_LONG = re.compile(r"/(?P<kind>data|environments|models|components)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


def parse_reference(ref: str, *, field: str = "reference") -> tuple[str, str | None, str | None]:
    """-> (name, version, label); exactly one of version and label is set (label 'latest' by default)."""
    ref = (ref or "").strip()
    long = _LONG.search(ref)
    if ref.startswith("azureml:/") and long:
        return long["name"], long["version"], None
    match = _SHORT.match(ref)
    if not match:
        raise ValidationError(
            {field: f"{ref!r} is not an asset reference; use azureml:<name>:<version> or azureml:<name>@latest."}
        )
    if match["label"] and match["label"] != "latest":
        raise ValidationError({field: f"Unknown label @{match['label']}; only @latest is supported."})
    return match["name"], match["version"], (None if match["version"] else "latest")


def resolve(*, workspace: Workspace, kind: str, ref: str, field: str = "reference") -> VersionedAsset:
    model = KINDS[kind]
    name, version, _label = parse_reference(ref, field=field)
    scope = Q(workspace=workspace)
    if model is Environment:
        scope |= Q(workspace__isnull=True, is_curated=True)
    queryset = model.objects.filter(scope, name=name)
    asset = version_or_latest(queryset, version=version)
    if asset is None:
        what = f"{name}:{version}" if version else f"{name}@latest"
        raise ValidationError({field: f"No {kind} asset {what} in workspace {workspace.name}."})
    return asset

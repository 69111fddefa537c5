"""The life of a versioned asset, the same for data, environments, models and components.

- create a version: the one given, or the next whole number; a duplicate name + version is a
  conflict (409) naming both;
- @latest: the newest version that is not archived; a reference names a version or a label;
- archive / restore one version, or a whole asset (every version of its name): archived versions
  leave lists and @latest and stay usable by their exact version;
- list: the newest version of each name, with how many versions it has, optionally searched by
  name, description and tags.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from core.errors import AlreadyExists

from .models import VersionedAsset

NEWEST_FIRST = ("-created_at", "-pk")


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


def next_version(*, model: type[VersionedAsset], workspace, name: str) -> str:
    """One more than the highest whole-number version of `name` (1 for a new name)."""
    versions = model.objects.filter(workspace=workspace, name=name).values_list("version", flat=True)
    numbers = [int(v) for v in versions if v.isdigit()]
    return str(max(numbers, default=0) + 1)


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


def latest(queryset: QuerySet):
    """The newest non-archived version (by creation), as Azure ML's @latest."""
    return queryset.filter(is_archived=False).order_by(*NEWEST_FIRST).first()


def version_or_latest(queryset: QuerySet, *, version: str | None):
    """The version named, or @latest when none is: a reference's version or label resolved."""
    return queryset.filter(version=version).first() if version else latest(queryset)


def search_filter(search: str, *fields: str) -> Q:
    """Name, description and tags (keys and values) contain `search`, ignoring case; `fields` adds more."""
    query = Q()
    for field in ("name", "description", "tags", *fields):
        query |= Q(**{f"{field}__icontains": search})
    return query


def newest_of_each(queryset: QuerySet, *, counted: QuerySet) -> QuerySet:
    """The newest row of each name in `queryset`, annotated with `version_count`: the rows of that
    name in `counted`."""
    newest = queryset.filter(name=OuterRef("name")).order_by(*NEWEST_FIRST).values("pk")[:1]
    counts = counted.filter(name=OuterRef("name")).order_by().values("name").annotate(n=Count("pk")).values("n")
    return queryset.filter(pk=Subquery(newest)).annotate(version_count=Subquery(counts)).order_by("name")


def asset_set_archived(*, asset: VersionedAsset, archived: bool) -> VersionedAsset:
    """Archive (or restore) one version."""
    asset.check_changeable()
    type(asset).objects.filter(pk=asset.pk).update(is_archived=archived)
    asset.is_archived = archived
    return asset


def asset_set_archived_all(*, model: type[VersionedAsset], workspace, name: str, archived: bool) -> list:
    """Archive (or restore) a whole asset: every version of `name` in the workspace. -> its versions,
    newest first (empty when there is no such asset)."""
    versions = list(model.objects.filter(workspace=workspace, name=name).order_by(*NEWEST_FIRST))
    for version in versions:
        version.check_changeable()
    model.objects.filter(pk__in=[v.pk for v in versions]).update(is_archived=archived)
    for version in versions:
        version.is_archived = archived
    return versions

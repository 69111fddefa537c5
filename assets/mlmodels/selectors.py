"""Reads of models, always inside one workspace."""

from assets.models import Model
from assets.versioning import latest, newest_of_each, search_filter
from workspaces.models import Workspace


def _base(workspace: Workspace):
    return Model.objects.filter(workspace=workspace).select_related("datastore", "created_by")


def model_list(
    *, workspace: Workspace, name: str = "", search: str = "", include_archived: bool = False, archived_only=False
):
    """The newest version of each model (as Azure ML's list), or every version of `name`.

    Archived versions are left out unless asked for; `search` matches names, descriptions and tags."""
    queryset = _base(workspace)
    if archived_only:
        queryset = queryset.filter(is_archived=True)
    elif not include_archived:
        queryset = queryset.filter(is_archived=False)
    if name:
        return queryset.filter(name=name).order_by("-created_at", "-pk")
    if search:
        queryset = queryset.filter(search_filter(search))
    counted = Model.objects.filter(workspace=workspace)
    if not include_archived and not archived_only:
        counted = counted.filter(is_archived=False)
    return newest_of_each(queryset, counted=counted)


def model_get(*, workspace: Workspace, name: str, version: str) -> Model | None:
    return _base(workspace).filter(name=name, version=version).first()


def model_versions(*, workspace: Workspace, name: str):
    """Every version of `name`, newest first, archived ones included (marked)."""
    return Model.objects.filter(workspace=workspace, name=name).order_by("-created_at", "-pk")


def model_latest(*, workspace: Workspace, name: str) -> Model | None:
    return latest(_base(workspace).filter(name=name))


def models_of_job(*, workspace: Workspace, job_name: str):
    """The model versions registered from a job (its lineage), by name then newest first."""
    return Model.objects.filter(workspace=workspace, job_name=job_name).order_by("name", "-created_at")

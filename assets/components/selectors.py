"""Reads of components, always inside one workspace."""

from assets.models import Component
from assets.versioning import latest, newest_of_each, search_filter
from workspaces.models import Workspace


def _base(workspace: Workspace):
    return Component.objects.filter(workspace=workspace).select_related("datastore", "created_by")


def component_list(*, workspace: Workspace, name: str = "", search: str = "", include_archived: bool = False):
    """The newest version of each component (as Azure ML's list), or every version of `name`."""
    queryset = _base(workspace)
    if not include_archived:
        queryset = queryset.filter(is_archived=False)
    if name:
        return queryset.filter(name=name).order_by("-created_at", "-pk")
    if search:
        queryset = queryset.filter(search_filter(search, "display_name"))
    counted = Component.objects.filter(workspace=workspace)
    if not include_archived:
        counted = counted.filter(is_archived=False)
    return newest_of_each(queryset, counted=counted)


def component_get(*, workspace: Workspace, name: str, version: str) -> Component | None:
    return _base(workspace).filter(name=name, version=version).first()


def component_versions(*, workspace: Workspace, name: str):
    return Component.objects.filter(workspace=workspace, name=name).order_by("-created_at", "-pk")


def component_latest(*, workspace: Workspace, name: str) -> Component | None:
    return latest(_base(workspace).filter(name=name))

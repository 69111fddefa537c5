"""Reads of components, always inside one workspace."""

from django.db.models import Count, OuterRef, Q, Subquery

from assets.models import Component
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
        queryset = queryset.filter(
            Q(name__icontains=search) | Q(display_name__icontains=search) | Q(description__icontains=search)
        )
    newest = queryset.filter(name=OuterRef("name")).order_by("-created_at", "-pk").values("pk")[:1]
    counts = Component.objects.filter(workspace=workspace, name=OuterRef("name"))
    if not include_archived:
        counts = counts.filter(is_archived=False)
    counts = counts.order_by().values("name").annotate(n=Count("pk")).values("n")
    return queryset.filter(pk=Subquery(newest)).annotate(version_count=Subquery(counts)).order_by("name")


def component_get(*, workspace: Workspace, name: str, version: str) -> Component | None:
    return _base(workspace).filter(name=name, version=version).first()


def component_versions(*, workspace: Workspace, name: str):
    return Component.objects.filter(workspace=workspace, name=name).order_by("-created_at", "-pk")


def component_latest(*, workspace: Workspace, name: str) -> Component | None:
    return _base(workspace).filter(name=name, is_archived=False).order_by("-created_at", "-pk").first()

"""Reads of environments, always scoped to a workspace (curated ones are visible from every workspace)."""

from django.db.models import Q, QuerySet

from workspaces.models import Workspace

from ..models import Environment


def _visible(workspace: Workspace) -> Q:
    return Q(workspace=workspace) | Q(workspace__isnull=True, is_curated=True)


def custom_environments(*, workspace: Workspace, archived: bool = False) -> QuerySet[Environment]:
    queryset = Environment.objects.filter(workspace=workspace).select_related("build", "created_by")
    return queryset if archived else queryset.filter(is_archived=False)


def curated_environments() -> QuerySet[Environment]:
    return Environment.objects.filter(workspace__isnull=True, is_curated=True, is_archived=False).select_related(
        "build"
    )


def latest_versions(queryset: QuerySet[Environment]) -> list[Environment]:
    """One row per name: its newest version, with `version_count` set (as Azure ML lists environments)."""
    latest: dict[str, Environment] = {}
    counts: dict[str, int] = {}
    for environment in queryset.order_by("name", "-created_at", "-pk"):
        counts[environment.name] = counts.get(environment.name, 0) + 1
        latest.setdefault(environment.name, environment)
    for name, environment in latest.items():
        environment.version_count = counts[name]
    return list(latest.values())


def environment_get(*, workspace: Workspace, name: str, version: str) -> Environment | None:
    return (
        Environment.objects.filter(_visible(workspace), name=name, version=version)
        .select_related("build", "created_by")
        .first()
    )


def environment_versions(*, workspace: Workspace, name: str) -> QuerySet[Environment]:
    return (
        Environment.objects.filter(_visible(workspace), name=name)
        .select_related("build", "created_by")
        .order_by("-created_at", "-pk")
    )


async def environment_get_async(*, workspace: Workspace, name: str, version: str) -> Environment | None:
    return (
        await Environment.objects.filter(_visible(workspace), name=name, version=version)
        .select_related("build")
        .afirst()
    )

"""The newest assets of each kind for a workspace's Home (registered in workspaces.recent)."""

from django.urls import reverse

from workspaces.recent import RecentItem

from .models import Component, DataAsset, Environment, Model

KINDS = [
    (DataAsset, "Data", "data_detail", lambda a: a.get_type_display()),
    (Environment, "Environment", "environment_detail", lambda a: f"version {a.version}"),
    (Model, "Model", "model_detail", lambda a: a.get_type_display()),
    (Component, "Component", "component_detail", lambda a: f"version {a.version}"),
]


def recent_assets(workspace, limit: int) -> list[RecentItem]:
    items = []
    for model, label, route, detail in KINDS:
        for asset in model.objects.filter(workspace=workspace, is_archived=False).order_by("-created_at")[:limit]:
            items.append(
                RecentItem(
                    label,
                    f"{asset.name}:{asset.version}",
                    detail(asset),
                    asset.created_at,
                    reverse(route, args=[workspace.name, asset.name, asset.version]),
                )
            )
    return items

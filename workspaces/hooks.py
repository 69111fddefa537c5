"""What other apps do when a workspace is created (compute gives it its default cluster).

Workspaces sit below those apps and never import them: each registers a callable here from its
AppConfig.ready(), called inside workspace_create's transaction with the new workspace and its creator.
"""

from collections.abc import Callable

_on_created: list[Callable] = []


def on_workspace_created(callback: Callable) -> None:
    if callback not in _on_created:
        _on_created.append(callback)


def workspace_created(*, workspace, user) -> None:
    for callback in _on_created:
        callback(workspace=workspace, user=user)

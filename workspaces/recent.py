"""What a workspace's Home lists under "Recent": the apps above workspaces (assets, jobs) register
a source here from their AppConfig.ready(), so workspaces imports none of them."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RecentItem:
    kind: str
    name: str
    detail: str
    when: datetime
    url: str


# source(workspace, limit) -> the workspace's newest `limit` items of one kind
SOURCES: list[Callable[..., Iterable[RecentItem]]] = []


def register(source: Callable[..., Iterable[RecentItem]]) -> None:
    if source not in SOURCES:
        SOURCES.append(source)

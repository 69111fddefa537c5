"""Paths of a datastore that no route may write or delete, whoever asks: each is declared by the
app that owns it (a job's code snapshot, by jobs), so this layer needs no import of theirs."""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied

# guard(datastore, path) -> why writing `path` (or deleting it with all below it) is refused, or "".
Guard = Callable[[object, str], str]
_guards: list[Guard] = []


def register(guard: Guard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def check_writable(datastore, path: str) -> None:
    """PermissionDenied naming the reason when `path` of `datastore` is protected."""
    for guard in _guards:
        if reason := guard(datastore, path):
            raise PermissionDenied(reason)

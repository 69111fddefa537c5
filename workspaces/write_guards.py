"""Paths of a datastore that a route may not write or delete: each rule is declared by the app that
owns the paths (a job's code snapshot, other jobs' folders for a job's own token: by jobs), so this
layer needs no import of theirs."""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied

# guard(datastore, path, access) -> why writing `path` (or deleting it with all below it) is
# refused, or "". `access` is the caller's WorkspaceAccess, or None when the studio itself writes.
Guard = Callable[[object, str, object], str]
_guards: list[Guard] = []


def register(guard: Guard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def check_writable(datastore, path: str, access=None) -> None:
    """PermissionDenied naming the reason when `path` of `datastore` is protected from `access`."""
    for guard in _guards:
        if reason := guard(datastore, path, access):
            raise PermissionDenied(reason)

"""Canonical, safe relative paths inside a datastore (SECURITY.md "Rules")."""

import re
from urllib.parse import unquote

from django.core.exceptions import ValidationError

_DRIVE = re.compile(r"^[a-zA-Z]:")
MAX_PATH_LENGTH = 1024
_DATASTORE_URI = re.compile(r"^azureml://datastores/(?P<datastore>[^/]+)/paths/(?P<path>.*)$")


def _decode_until_stable(value: str) -> str:
    for _ in range(10):
        decoded = unquote(value)
        if decoded == value:
            return value
        value = decoded
    raise ValidationError("The path is encoded too many times.")


def clean_path(raw: str, *, field: str = "path", allow_root: bool = True) -> str:
    """'a/b/c.csv' for a path the user gave; raises ValidationError naming `field` otherwise.

    Decodes percent-escapes until stable, then rejects NUL, backslash, '#', '..' segments,
    absolute paths and drive letters. Empty and '.' segments are dropped.
    """
    value = _decode_until_stable(raw or "")

    def fail(problem: str):
        raise ValidationError({field: f"{problem} (got {raw[:100]!r})."})

    if "\x00" in value:
        fail("The path must not contain a NUL character")
    if "\\" in value:
        fail("Use '/' between folders; backslashes are not allowed")
    if "#" in value:
        fail("The path must not contain '#'")
    if value.startswith("/") or _DRIVE.match(value):
        fail("The path must be relative to the datastore, not absolute")
    if any(ord(ch) < 32 for ch in value):
        fail("The path must not contain control characters")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        fail("The path must not contain '..'")
    if len(value) > MAX_PATH_LENGTH:
        fail(f"The path is longer than {MAX_PATH_LENGTH} characters")
    if not parts and not allow_root:
        fail("Give a file path, not the datastore's root")
    return "/".join(parts)


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def parse_datastore_uri(uri: str, *, field: str = "path") -> tuple[str, str]:
    """azureml://datastores/<name>/paths/<path> -> (name, cleaned path)."""
    match = _DATASTORE_URI.match(uri or "")
    if not match:
        raise ValidationError({field: f"Expected azureml://datastores/<name>/paths/<path>, got {(uri or '')[:100]!r}."})
    return match["datastore"], clean_path(match["path"], field=field)

"""Resumable uploads: a file is sent in chunks into a staging file, then becomes part of a data
asset (assets/data/services.py) or is discarded.

    POST   .../data/uploads                {file_name, size}    -> {id, received: 0, chunk_size}
    PUT    .../data/uploads/<id>           Content-Range: bytes <start>-<end>/<size>, raw body -> {received}
    GET    .../data/uploads/<id>                                -> {received}   (where to resume)

A chunk must start where the last one ended; any other start is a 409 carrying `received`, so a
client that lost its connection asks once and carries on. Chunks land in
STUDIO_DATA_DIR/uploads/<id>.part at their offset, streamed in pieces: memory stays flat. The
staging file and its row are removed when the asset is created, or by the scheduled
`discard_stale_uploads` task once nobody has touched them for STALE_AFTER.
"""

import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions, status

from assets.models import UploadSession
from studio.api_errors import Conflict
from workspaces.paths import clean_path

CHUNK_SIZE = 8 * 1024 * 1024  # what clients are told to send
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # the most one PUT may carry
PIECE = 1024 * 1024  # how much is held in memory at once
STALE_AFTER = timedelta(hours=24)
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "RequestEntityTooLarge"


class ChunkOutOfOrder(Conflict):
    """A chunk that does not start where the upload stands; `received` tells where to resume."""

    def __init__(self, received: int, start: int):
        super().__init__(
            f"This upload has {received} bytes; send the chunk that starts at byte {received}, not {start}."
        )
        self.received = received


def staging_dir() -> Path:
    return Path(settings.STUDIO_DATA_DIR) / "uploads"


def staging_path(upload_id) -> Path:
    return staging_dir() / f"{uuid.UUID(str(upload_id)).hex}.part"


def upload_session_create(*, workspace, user, file_name: str, size) -> UploadSession:
    """A new, empty upload of `size` bytes; `file_name` is the user's relative path (metadata only)."""
    name = clean_path(str(file_name or ""), field="file_name", allow_root=False)
    if len(name) > UploadSession._meta.get_field("file_name").max_length:
        raise ValidationError({"file_name": "The file name is too long."})
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValidationError({"size": "Give the file's size in bytes (a whole number, 0 or more)."})
    if size > settings.STUDIO_MAX_UPLOAD_SIZE:
        raise UploadTooLarge(f"size: {size} bytes is over the upload limit of {settings.STUDIO_MAX_UPLOAD_SIZE} bytes.")
    session = UploadSession(id=uuid.uuid4(), workspace=workspace, created_by=user, file_name=name, size=size)
    staging_dir().mkdir(parents=True, exist_ok=True)
    path = staging_path(session.id)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    os.close(fd)
    try:
        session.save(force_insert=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return session


@dataclass(frozen=True)
class Chunk:
    start: int
    length: int


def chunk_check(*, session: UploadSession, content_range: str | None, content_length: str | None = None) -> Chunk:
    """Where a PUT's body goes, from its Content-Range header; refuses a chunk that does not fit."""
    match = _RANGE.match((content_range or "").strip())
    if not match:
        raise ValidationError({"Content-Range": "Send the header Content-Range: bytes <start>-<end>/<size>."})
    start, end, total = (int(group) for group in match.groups())
    if total != session.size:
        raise ValidationError({"Content-Range": f"The total must be the upload's size, {session.size} (got {total})."})
    if end < start or end >= total:
        raise ValidationError({"Content-Range": f"bytes {start}-{end} is not a range inside 0-{total - 1}."})
    length = end - start + 1
    if length > MAX_CHUNK_BYTES:
        raise UploadTooLarge(f"Content-Range: a chunk may carry at most {MAX_CHUNK_BYTES} bytes (this one {length}).")
    if content_length not in (None, "") and content_length != str(length):
        raise ValidationError({"Content-Range": f"The range holds {length} bytes but the body has {content_length}."})
    if start != session.received:
        raise ChunkOutOfOrder(session.received, start)
    return Chunk(start, length)


def chunk_write(*, session: UploadSession, chunk: Chunk, read) -> None:
    """Copy the chunk's bytes from `read(n)` into the staging file at its offset, a piece at a time."""
    left = chunk.length
    with open(staging_path(session.id), "r+b") as out:
        out.seek(chunk.start)
        while left:
            piece = read(min(PIECE, left))
            if not piece:
                break
            out.write(piece)
            left -= len(piece)
        extra = read(1)
    if left or extra:
        raise ValidationError({"Content-Range": f"The body does not hold the {chunk.length} bytes the range names."})


def chunk_commit(*, session: UploadSession, chunk: Chunk) -> int:
    """Record the chunk; a concurrent writer that got there first makes this a 409."""
    received = chunk.start + chunk.length
    updated = UploadSession.objects.filter(pk=session.pk, received=chunk.start).update(
        received=received, updated_at=timezone.now()
    )
    if not updated:
        current = UploadSession.objects.filter(pk=session.pk).values_list("received", flat=True).first()
        raise ChunkOutOfOrder(current or 0, chunk.start)
    session.received = received
    return received


def upload_chunk_put(*, session: UploadSession, content_range, content_length, read) -> int:
    """One chunk, checked, written and recorded; returns the bytes received so far."""
    chunk = chunk_check(session=session, content_range=content_range, content_length=content_length)
    chunk_write(session=session, chunk=chunk, read=read)
    return chunk_commit(session=session, chunk=chunk)


def upload_session_discard(*, session: UploadSession) -> None:
    with transaction.atomic():
        UploadSession.objects.filter(pk=session.pk).delete()
    staging_path(session.id).unlink(missing_ok=True)


def upload_sessions_discard_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """Remove uploads nobody has touched for `older_than` (rows and staging files); returns how many."""
    cutoff = timezone.now() - older_than
    removed = 0
    for upload_id in UploadSession.objects.filter(updated_at__lt=cutoff).values_list("pk", flat=True):
        # Conditional: an upload that received a chunk since the query above stays.
        if UploadSession.objects.filter(pk=upload_id, updated_at__lt=cutoff).delete()[0]:
            staging_path(upload_id).unlink(missing_ok=True)
            removed += 1
    # Staging files whose row is gone (e.g. the process died between the two steps).
    if staging_dir().is_dir():
        live = {u.hex for u in UploadSession.objects.values_list("pk", flat=True)}
        for path in staging_dir().glob("*.part"):
            if path.stem not in live and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return removed

"""Resumable uploads: a file is sent in chunks into a staging file, then becomes part of a data
asset (assets/data/services.py) or is discarded.

    POST   .../data/uploads                {file_name, size, parallel?} -> {id, received: 0, chunk_size, ...}
    PUT    .../data/uploads/<id>           Content-Range: bytes <start>-<end>/<size>, raw body -> {received}
    GET    .../data/uploads/<id>                                -> {received, missing, complete}

`received` is how many bytes from byte 0 the studio holds without a gap. By default a chunk must
start there; any other start is a 409 carrying `received`, so a client that lost its connection asks
once and carries on. An upload started with `parallel: true` takes chunks at any offset and several
at once (as azcopy sends blocks); a chunk that overlaps bytes already received is a 409 carrying
`received` and `missing`, the byte ranges still to send, which GET also lists. Completing an upload
that misses bytes is refused, naming them.

Chunks land in STUDIO_DATA_DIR/uploads/<id>.part at their offset (os.pwrite), streamed in pieces:
memory stays flat. A chunk is written under a shared flock of the staging file, and the upload's
state is checked only once that lock is held; completing an upload takes the lock exclusively
for a moment (`staging_idle`), so no chunk can still be writing into a file that became an asset.
The ranges a parallel upload holds beyond `received` are UploadRange rows, merged under a row lock
of the upload, so concurrent chunks never lose one another's progress. The staging file and its
rows are removed when the asset is created, or by the scheduled `discard_stale_uploads` task once
nobody has touched them for STALE_AFTER.
"""

import ctypes
import errno
import fcntl
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

from assets.models import UploadRange, UploadSession
from core.api_errors import Conflict
from workspaces.paths import clean_path

CHUNK_SIZE = 32 * 1024 * 1024  # what clients are told to send: a chunk costs a few queries, so not too small
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # the most one PUT may carry
PIECE = 1024 * 1024  # how much is held in memory at once
MISSING_LISTED = 100  # at most this many missing ranges in an answer
STALE_AFTER = timedelta(hours=24)
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "RequestEntityTooLarge"


class ChunkConflict(Conflict):
    """A chunk the upload cannot take where it is; `received` and `missing` tell what to send."""

    def __init__(self, message: str, *, received: int, missing: list[tuple[int, int]] | None = None):
        super().__init__(message)
        self.received = received
        self.missing = missing

    def body(self) -> dict:
        """The 409's JSON body."""
        body = {"error": {"code": "Conflict", "message": str(self.detail)}, "received": self.received}
        if self.missing is not None:
            body["missing"] = missing_json(self.missing)
        return body


class UploadGone(exceptions.NotFound):
    """The upload was completed, cancelled or discarded while a chunk was on its way."""


def describe_ranges(ranges: list[tuple[int, int]]) -> str:
    """`bytes 0-9, 20-29` for [(0, 10), (20, 30)] (end-exclusive in, inclusive out, as Content-Range)."""
    return "bytes " + ", ".join(f"{start}-{end - 1}" for start, end in ranges)


def missing_json(ranges: list[tuple[int, int]]) -> list[dict]:
    """Missing ranges as the API shows them: {start, end}, both inclusive as in Content-Range."""
    return [{"start": start, "end": end - 1} for start, end in ranges]


def missing_ranges(session: UploadSession, *, limit: int = MISSING_LISTED) -> list[tuple[int, int]]:
    """The byte ranges [start, end) the upload does not hold yet, in order, at most `limit` of them."""
    gaps, at = [], session.received
    if session.parallel and at < session.size:
        for start, end in (
            UploadRange.objects.filter(upload_id=session.pk).order_by("start").values_list("start", "end")
        ):
            if start > at:
                gaps.append((at, start))
                if len(gaps) >= limit:
                    return gaps
            at = max(at, end)
    if at < session.size:
        gaps.append((at, session.size))
    return gaps[:limit]


def staging_dir() -> Path:
    return Path(settings.STUDIO_DATA_DIR) / "uploads"


def staging_path(upload_id) -> Path:
    return staging_dir() / f"{uuid.UUID(str(upload_id)).hex}.part"


def upload_session_create(*, workspace, user, file_name: str, size, parallel: bool = False) -> UploadSession:
    """A new, empty upload of `size` bytes; `file_name` is the user's relative path (metadata only).
    A `parallel` upload takes its chunks in any order, several at once."""
    name = clean_path(str(file_name or ""), field="file_name", allow_root=False)
    if len(name) > UploadSession._meta.get_field("file_name").max_length:
        raise ValidationError({"file_name": "The file name is too long."})
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValidationError({"size": "Give the file's size in bytes (a whole number, 0 or more)."})
    if size > settings.STUDIO_MAX_UPLOAD_SIZE:
        raise UploadTooLarge(f"size: {size} bytes is over the upload limit of {settings.STUDIO_MAX_UPLOAD_SIZE} bytes.")
    session = UploadSession(
        id=uuid.uuid4(), workspace=workspace, created_by=user, file_name=name, size=size, parallel=bool(parallel)
    )
    staging_dir().mkdir(parents=True, exist_ok=True)
    path = staging_path(session.id)
    # Readable by others as every stored file is (AtomicFileSystemStorage): a job's sandboxed uid reads
    # its ro_mount inputs in place. The staging folder itself lies in the data directory.
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
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

    @property
    def end(self) -> int:
        return self.start + self.length


def chunk_range(*, session: UploadSession, content_range: str | None, content_length: str | None = None) -> Chunk:
    """Where a PUT's body goes, from its Content-Range header; refuses a range that does not fit the
    upload (400, or 413 for a chunk over MAX_CHUNK_BYTES). Reads nothing from the database."""
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
    return Chunk(start, length)


def chunk_fits(*, session: UploadSession, chunk: Chunk) -> None:
    """A 409 for a chunk the upload cannot take as it stands now: one that does not start at
    `received`, or, for a parallel upload, one overlapping bytes it already holds."""
    if not session.parallel:
        if chunk.start != session.received:
            raise ChunkConflict(
                f"This upload has {session.received} bytes; "
                f"send the chunk that starts at byte {session.received}, not {chunk.start}.",
                received=session.received,
            )
        return
    held = chunk.start < session.received or (
        UploadRange.objects.filter(upload_id=session.pk, start__lt=chunk.end, end__gt=chunk.start).exists()
    )
    if held:
        missing = missing_ranges(session)
        wanted = f"send what is missing: {describe_ranges(missing)}" if missing else "it is complete"
        raise ChunkConflict(
            f"This upload already holds some of bytes {chunk.start}-{chunk.end - 1}; {wanted}.",
            received=session.received,
            missing=missing,
        )


def chunk_check(*, session: UploadSession, content_range: str | None, content_length: str | None = None) -> Chunk:
    """Where a PUT's body goes; refuses a chunk that does not fit (400, 409 or 413)."""
    chunk = chunk_range(session=session, content_range=content_range, content_length=content_length)
    chunk_fits(session=session, chunk=chunk)
    return chunk


def open_for_chunk(upload_id) -> int:
    """The staging file opened for writing, with a shared lock held until the descriptor is closed.

    Take it before checking the upload's state (`refresh_for_chunk`): completing an upload waits
    for no lock holder (`staging_idle`), so a chunk checked under the lock cannot land in an asset.
    Raises FileNotFoundError when the upload's staging file is gone.
    """
    fd = os.open(staging_path(upload_id), os.O_WRONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refresh_for_chunk(session: UploadSession) -> None:
    """Reload the upload's progress once the staging file is locked; UploadGone if it has gone."""
    row = UploadSession.objects.filter(pk=session.pk).values_list("received", "size", "parallel").first()
    if row is None:
        raise UploadGone(f"Upload {session.pk} is no longer open.")
    session.received, session.size, session.parallel = row


def staging_idle(upload_id) -> bool:
    """True when no chunk is being written into the upload's staging file. Once an upload holds all
    its bytes no new chunk can pass `chunk_fits`, so an idle staging file stays as it is."""
    try:
        fd = os.open(staging_path(upload_id), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def write_at(fd: int, data, offset: int) -> None:
    """Write all of `data` (bytes or a list of them) into `fd` at `offset`, and start writing it
    to disk (`start_writeback`)."""
    pieces = data if isinstance(data, list) else [data]
    size = sum(len(piece) for piece in pieces)
    written = os.pwritev(fd, pieces, offset)
    if written != size:
        rest = memoryview(b"".join(pieces))[written:]  # a short write is rare: finish it
        while rest:
            done = os.pwrite(fd, rest, offset + written)
            rest, written = rest[done:], written + done
    start_writeback(fd, offset, size)


DIRECT_ALIGN = 4096  # offsets and lengths of direct writes are whole blocks of this size


def open_direct(upload_id) -> int | None:
    """The staging file opened a second time, for direct I/O (O_DIRECT): writes through it go from
    the caller's buffer to the disk without a copy in the page cache. None where the platform or
    the filesystem (tmpfs, some network filesystems) has no direct I/O; `open_for_chunk`'s
    descriptor, which holds the lock, serves alone then."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(staging_path(upload_id), os.O_WRONLY | os.O_CLOEXEC | flag)
    except OSError:
        return None


def write_direct(direct_fd: int | None, fd: int, buffer, length: int, offset: int) -> None:
    """Write `buffer[:length]` at `offset`: its whole blocks through `direct_fd` when the offset
    is block-aligned (`buffer` must be page-aligned, as an mmap is), the rest, or all of it when
    direct I/O is refused, through `fd` (`write_at`)."""
    view = memoryview(buffer)
    done = 0
    whole = length - length % DIRECT_ALIGN if direct_fd is not None and offset % DIRECT_ALIGN == 0 else 0
    try:
        while done < whole:
            written = os.pwrite(direct_fd, view[done:whole], offset + done)
            if written <= 0 or written % DIRECT_ALIGN:
                done += max(written, 0)
                break
            done += written
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    try:
        if done < length:
            write_at(fd, [view[done:length]], offset + done)
    finally:
        view.release()


def _sync_file_range():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


SYNC_FILE_RANGE = _sync_file_range()
SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing these bytes to disk now, without waiting (Linux
    sync_file_range(2)), rather than once the upload is done: the disk works while the next
    bytes arrive, and an upload's dirty pages never pile up in memory. A no-op elsewhere."""
    if SYNC_FILE_RANGE is not None and length:
        SYNC_FILE_RANGE(fd, offset, length, SYNC_FILE_RANGE_WRITE)


def chunk_write(*, fd: int, chunk: Chunk, read) -> None:
    """Copy the chunk's bytes from `read(n)` into the staging file at its offset, a piece at a time."""
    left, offset = chunk.length, chunk.start
    while left:
        piece = read(min(PIECE, left))
        if not piece:
            break
        write_at(fd, piece, offset)
        offset += len(piece)
        left -= len(piece)
    if left or read(1):
        raise ValidationError({"Content-Range": f"The body does not hold the {chunk.length} bytes the range names."})


def chunk_commit(*, session: UploadSession, chunk: Chunk) -> int:
    """Record a written chunk; returns `received`. In order, a concurrent writer that got there
    first makes this a 409; in parallel, the chunk's range is merged with those held, under a row
    lock of the upload, so that concurrent chunks all count."""
    if not session.parallel:
        updated = UploadSession.objects.filter(pk=session.pk, received=chunk.start).update(
            received=chunk.end, updated_at=timezone.now()
        )
        if not updated:
            current = UploadSession.objects.filter(pk=session.pk).values_list("received", flat=True).first() or 0
            raise ChunkConflict(
                f"This upload has {current} bytes; send the chunk that starts at byte {current}, not {chunk.start}.",
                received=current,
            )
        session.received = chunk.end
        return chunk.end
    with transaction.atomic():
        received = (
            UploadSession.objects.select_for_update().filter(pk=session.pk).values_list("received", flat=True).first()
        )
        if received is None:
            raise UploadGone(f"Upload {session.pk} is no longer open.")
        start, end = chunk.start, chunk.end
        touching = list(
            UploadRange.objects.filter(upload_id=session.pk, start__lte=end, end__gte=start).values_list(
                "pk", "start", "end"
            )
        )
        if touching:
            start = min(start, *(row[1] for row in touching))
            end = max(end, *(row[2] for row in touching))
            UploadRange.objects.filter(pk__in=[row[0] for row in touching]).delete()
        if start <= received:
            received = max(received, end)
        else:
            UploadRange.objects.create(upload_id=session.pk, start=start, end=end)
        UploadSession.objects.filter(pk=session.pk).update(received=received, updated_at=timezone.now())
    session.received = received
    return received


def upload_chunk_put(*, session: UploadSession, content_range, content_length, read) -> int:
    """One chunk, checked, written and recorded; returns the bytes received so far from byte 0."""
    chunk = chunk_range(session=session, content_range=content_range, content_length=content_length)
    try:
        fd = open_for_chunk(session.pk)
    except FileNotFoundError:
        raise UploadGone(f"Upload {session.pk} is no longer open.") from None
    try:
        refresh_for_chunk(session)
        chunk_fits(session=session, chunk=chunk)
        chunk_write(fd=fd, chunk=chunk, read=read)
        return chunk_commit(session=session, chunk=chunk)
    finally:
        os.close(fd)


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

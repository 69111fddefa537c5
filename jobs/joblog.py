"""A job's live log: bytes from the job's process, stored bounded, readable from any offset.

Chunks go to the database (JobLogChunk; offsets are byte offsets in user_logs/std_log.txt) so
that the web server streams them wherever the node runs, and to a local file that is uploaded
to the artifact store at the end.
"""

import codecs
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F

from .models import Job, JobLogChunk

TRUNCATION_NOTICE = "\n[studio] The log is longer than {limit} bytes; the rest of it is not stored.\n"


class JobLogWriter:
    """Collects output from the reader thread and flushes it every `interval` seconds (or when a
    chunk grows large) as one JobLogChunk; stops storing past STUDIO_JOB_LOG_MAX_BYTES."""

    def __init__(self, job_id: int, file_path: Path, *, interval: float = 0.1, start_offset: int = 0):
        self.job_id = job_id
        self.file = open(file_path, "ab")  # noqa: SIM115 - closed in close()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.interval = interval
        self.limit = settings.STUDIO_JOB_LOG_MAX_BYTES
        self.offset = start_offset  # bytes stored so far (file and database agree)
        self.pending: list[str] = []
        self.pending_bytes = 0
        self.truncated = False
        self.lock = threading.Lock()
        self.last_flush = time.monotonic()

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.truncated:
                return
            room = self.limit - self.offset - self.pending_bytes
            if len(data) > room:
                data = data[: max(room, 0)]
                self.truncated = True
            text = self.decoder.decode(data)
            if self.truncated:
                text += self.decoder.decode(b"", final=True) + TRUNCATION_NOTICE.format(limit=self.limit)
            if text:
                encoded = text.encode()
                self.file.write(encoded)
                self.pending.append(text)
                self.pending_bytes += len(encoded)
        if self.pending_bytes > 256 * 1024:
            self.flush()

    def system(self, line: str) -> None:
        """A line from the studio itself, marked as such."""
        self.write(f"[studio] {line}\n".encode())

    def maybe_flush(self) -> None:
        if time.monotonic() - self.last_flush >= self.interval:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            self.last_flush = time.monotonic()
            if not self.pending:
                return
            text = "".join(self.pending)
            size = self.pending_bytes
            self.pending, self.pending_bytes = [], 0
            offset = self.offset
            self.offset += size
            self.file.flush()
        with transaction.atomic():
            JobLogChunk.objects.create(job_id=self.job_id, offset=offset, text=text)
            Job.objects.filter(pk=self.job_id).update(log_size=F("log_size") + size)

    def close(self) -> None:
        tail = self.decoder.decode(b"", final=True)
        if tail:
            with self.lock:
                self.pending.append(tail)
                self.pending_bytes += len(tail.encode())
                self.file.write(tail.encode())
        self.flush()
        self.file.close()


def read_log(job_id: int, *, after: int = 0, limit_bytes: int = 1024 * 1024) -> tuple[str, int]:
    """Text stored after byte offset `after` (whole chunks), and the offset to continue from."""
    parts, end = [], after
    for chunk in JobLogChunk.objects.filter(job_id=job_id, offset__gte=after).order_by("offset").only("offset", "text"):
        if chunk.offset != end:
            if not parts and after:  # `after` may fall inside a chunk: its rest comes first
                return _rest_of_chunk(job_id, after)
            break  # not yet contiguous (a flush still in flight)
        parts.append(chunk.text)
        end = chunk.offset + len(chunk.text.encode())
        if end - after >= limit_bytes:
            break
    if not parts and after and after < (Job.objects.filter(pk=job_id).values_list("log_size", flat=True).first() or 0):
        return _rest_of_chunk(job_id, after)  # `after` falls inside the last chunk
    return "".join(parts), end


def _rest_of_chunk(job_id: int, after: int) -> tuple[str, int]:
    """The text of the chunk holding byte `after` from that byte on (cut at a byte, so a split
    character reads as U+FFFD), and the chunk's end; ("", after) at a chunk boundary or the end."""
    chunk = (
        JobLogChunk.objects.filter(job_id=job_id, offset__lt=after).order_by("-offset").only("offset", "text").first()
    )
    data = chunk.text.encode() if chunk else b""
    if chunk is None or chunk.offset + len(data) <= after:
        return "", after
    return data[after - chunk.offset :].decode("utf-8", errors="replace"), chunk.offset + len(data)

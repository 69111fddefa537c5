"""Archives sent with a job (its `code`, a local folder input `inputs.<name>`), unpacked into a datastore.

A .zip or a tar (plain, .gz, .bz2 or .xz) is checked from its headers before anything is stored: at
most MAX_FILES entries, at most MAX_BYTES unpacked, and no member, nor the whole archive, unpacking
to more than MAX_RATIO times its packed size once it is past RATIO_FLOOR. A zip bomb or a tar of a
million entries is refused (a ValidationError naming the field) for the price of reading headers:
a tar is walked lazily and left at the first entry over a limit, and a zip's table of contents is
only read when it is no larger than MAX_FILES entries need.

The archive is read where it already is: Django keeps an upload larger than
FILE_UPLOAD_MAX_MEMORY_SIZE in a temporary file on disk. Members are then unpacked one at a time,
a chunk at a time, through a temporary file into storage, their bytes counted as they come out so
that none yields more than its header declared. If a member fails, the ones already stored are
deleted again.
"""

import io
import lzma
import os
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from functools import partial
from typing import IO, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import Storage

from workspaces.paths import clean_path, join

MAX_FILES = 10_000
MAX_BYTES = 2 * 1024**3
MAX_RATIO = 100
RATIO_FLOOR = 8 * 1024**2  # a member or archive unpacking to less is not held to MAX_RATIO
# zipfile reads a zip's whole table of contents at once and parses every entry in it: a table
# larger than MAX_FILES entries of this many bytes each (name included) is refused unread.
ZIP_DIRECTORY_BYTES_PER_ENTRY = 256
CHUNK = 1024 * 1024
TOO_MANY_ENTRIES = f"The archive holds more than {MAX_FILES:,} files and folders."

# What reading a damaged, truncated or unsupported archive raises. The archive is a local file or
# bytes in memory, so an OSError while reading it is a decompressor's complaint (gzip, bz2).
READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError)


@dataclass(frozen=True)
class _Member:
    name: str  # the checked path inside the folder
    size: int  # the bytes its header declares
    open: Callable[[], IO[bytes]]


class _Limits:
    """Entries and declared bytes, counted as the headers are read: a ValidationError naming the
    field at the first entry that takes the archive over a limit."""

    def __init__(self, field: str, packed: int):
        self.field, self.packed = field, packed
        self.entries = self.total = 0

    def refuse(self, message: str) -> NoReturn:
        raise ValidationError({self.field: message})

    def count(self, name: str, size: int, packed: int | None = None) -> None:
        self.entries += 1
        self.total += size
        if self.entries > MAX_FILES:
            self.refuse(TOO_MANY_ENTRIES)
        if self.total > MAX_BYTES:
            self.refuse(f"The archive unpacks to more than {MAX_BYTES // 1024**3} GiB.")
        if packed is not None and size > RATIO_FLOOR and size > MAX_RATIO * packed:
            self.refuse(
                f"{name[:200]!r} unpacks to {size:,} bytes from {packed:,}: more than {MAX_RATIO} times "
                "its packed size, which the studio does not unpack."
            )
        if self.total > RATIO_FLOOR and self.total > MAX_RATIO * self.packed:
            self.refuse(
                f"The archive unpacks to more than {MAX_RATIO} times its own size ({self.packed:,} bytes), "
                "which the studio does not unpack."
            )


class _DirectoryTooLarge(Exception):
    pass


class _ReadCap:
    """The archive's file as zipfile reads it, refusing any one read of more than `most` bytes:
    zipfile reads a zip's table of contents in one read. Members are read in chunks below it."""

    def __init__(self, handle, most: int):
        self.handle, self.most = handle, most

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            data = self.handle.read(self.most + 1)
            if len(data) > self.most:
                raise _DirectoryTooLarge
            return data
        if size > self.most:
            raise _DirectoryTooLarge
        return self.handle.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self.handle.seek(offset, whence)
        return self.handle.tell()

    def tell(self) -> int:
        return self.handle.tell()

    def seekable(self) -> bool:
        return True


def _open_zip(handle) -> zipfile.ZipFile:
    return zipfile.ZipFile(_ReadCap(handle, MAX_FILES * ZIP_DIRECTORY_BYTES_PER_ENTRY))


def _zip_members(archive: zipfile.ZipFile, limits: _Limits) -> list[_Member]:
    members = []
    for info in archive.infolist():
        limits.count(info.filename, info.file_size, info.compress_size)
        if info.flag_bits & 0x1:
            limits.refuse(f"{info.filename[:200]!r} is encrypted; send the archive without a password.")
        if not info.is_dir():
            name = clean_path(info.filename, field=limits.field, allow_root=False)
            members.append(_Member(name, info.file_size, partial(archive.open, info)))
    return members


def _open_tar(handle) -> tarfile.TarFile:
    return tarfile.open(fileobj=handle, mode="r:*")


def _tar_members(archive: tarfile.TarFile, limits: _Limits) -> list[_Member]:
    members = []
    for info in archive:  # header by header: the first entry over a limit ends the walk
        limits.count(info.name, info.size if info.isfile() else 0)
        if info.isfile():  # links, devices and the like are not unpacked
            name = clean_path(info.name, field=limits.field, allow_root=False)
            members.append(_Member(name, info.size, partial(archive.extractfile, info)))
    return members


def _chunks(member: _Member, field: str):
    """The member's bytes, a chunk at a time; never more than its header declared."""
    read = 0
    try:
        with member.open() as source:
            while chunk := source.read(CHUNK):
                read += len(chunk)
                if read > member.size:
                    raise ValidationError({field: f"{member.name!r} holds more bytes than its header declares."})
                yield chunk
    except READ_ERRORS as exc:
        message = f"{member.name!r} cannot be read, the archive is damaged: {str(exc)[:200]}"
        raise ValidationError({field: message}) from None


def _store(members: list[_Member], *, storage: Storage, prefix: str, field: str) -> int:
    stored = []
    try:
        for member in members:
            with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
                for chunk in _chunks(member, field):
                    spool.write(chunk)
                spool.seek(0)
                stored.append(storage.save(join(prefix, member.name), File(spool, name=member.name)))
    except BaseException:
        for name in stored:
            with suppress(OSError):
                storage.delete(name)
        raise
    return len(stored)


def unpack(archive, *, storage: Storage, prefix: str, field: str) -> int:
    """Store the files of a zip or tar `archive` (an uploaded file, or bytes) under `prefix`; the
    number of files stored. Refused with a ValidationError naming `field`, nothing stored."""
    handle = io.BytesIO(archive) if isinstance(archive, bytes | bytearray) else archive
    handle.seek(0, os.SEEK_END)
    limits = _Limits(field, packed=handle.tell())
    handle.seek(0)
    is_zip = zipfile.is_zipfile(handle)
    handle.seek(0)
    with ExitStack() as opened:
        try:
            if is_zip:
                members = _zip_members(opened.enter_context(_open_zip(handle)), limits)
            else:
                members = _tar_members(opened.enter_context(_open_tar(handle)), limits)
        except _DirectoryTooLarge:
            limits.refuse(TOO_MANY_ENTRIES)
        except READ_ERRORS:
            limits.refuse("The archive must be a whole .zip or .tar.gz file.")
        return _store(members, storage=storage, prefix=prefix, field=field)

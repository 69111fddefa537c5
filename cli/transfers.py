"""The local side of datastore uploads and downloads: files to send in batches, files and zips received."""

import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import CliError

MAX_BATCH_FILES = 100
MAX_BATCH_BYTES = 256 * 1024 * 1024
CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class LocalFile:
    path: Path  # on this machine
    relative: str  # where it goes below the destination folder, with '/' between folders
    size: int


def local_files(src: Path) -> list[LocalFile]:
    """A file, or every file below a folder (recursively, sorted) with its path relative to that folder."""
    if src.is_file():
        return [LocalFile(src, src.name, src.stat().st_size)]
    if not src.is_dir():
        raise CliError(f"No such file or folder: {src}")
    found = []
    for folder, subfolders, names in os.walk(src):
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_file():  # not sockets, fifos or broken links
                found.append(LocalFile(path, path.relative_to(src).as_posix(), path.stat().st_size))
    return found


def batches(files: Iterable[LocalFile], *, max_files=MAX_BATCH_FILES, max_bytes=MAX_BATCH_BYTES) -> Iterator[list]:
    """Groups of at most `max_files` files and `max_bytes` bytes (a larger file travels alone)."""
    batch: list[LocalFile] = []
    size = 0
    for file in files:
        if batch and (len(batch) == max_files or size + file.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += file.size
    if batch:
        yield batch


def save_stream(chunks: Iterable[bytes], target: Path) -> int:
    """Write `chunks` to `target`, which appears whole or not at all; returns the bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with open(partial, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def check_member_name(name: str) -> list[str]:
    """The '/'-separated parts of a zip member's name, refusing any that could land outside the folder."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or _DRIVE.match(name)
        or "\\" in name
        or "\x00" in name
        or any(part == ".." for part in parts)
    ):
        raise CliError(f"Refusing to extract {name!r} from the downloaded zip: it points outside the folder.")
    return [part for part in parts if part not in ("", ".")]


def extract_zip(archive: BinaryIO, folder: Path) -> list[Path]:
    """Extract every file of the zip below `folder`, after checking every member's name."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [(member, check_member_name(member.filename)) for member in zipped.infolist()]
            folder.mkdir(parents=True, exist_ok=True)
            written = []
            for member, parts in members:
                target = folder.joinpath(*parts)
                if member.is_dir() or not parts:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                written.append(target)
    except zipfile.BadZipFile as exc:
        raise CliError(f"The studio sent a damaged zip: {exc}")
    return written


def save_download(response, *, folder: Path, file: Path) -> list[Path]:
    """A streamed download: a zip (a folder) is extracted below `folder`, anything else is saved as
    `file`. -> the files written."""
    if response.headers.get("content-type", "").startswith("application/zip"):
        with tempfile.TemporaryFile() as spool:
            for chunk in response.iter_bytes(CHUNK):
                spool.write(chunk)
            spool.seek(0)
            return extract_zip(spool, folder)
    save_stream(response.iter_bytes(CHUNK), file)
    return [file]

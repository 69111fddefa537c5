"""File and folder downloads from a datastore: always attachments, never rendered by the browser."""

import os
import tempfile
import zipfile

from asgiref.sync import sync_to_async
from django.core.files.storage import Storage
from django.http import FileResponse

from .paths import join
from .storage import walk_files

CHUNK_SIZE = 1024 * 1024


class StreamingFileResponse(FileResponse):
    """A FileResponse that an ASGI server sends chunk by chunk.

    Django serves a synchronous iterator under ASGI by reading all of it into memory first; here
    each chunk is read in a worker thread as it is sent, so memory stays flat for any file size.
    """

    block_size = CHUNK_SIZE

    async def __aiter__(self):
        read = sync_to_async(next, thread_sensitive=False)
        try:
            while (chunk := await read(self._iterator, None)) is not None:
                yield self.make_bytes(chunk)
        finally:
            await sync_to_async(self.close, thread_sensitive=False)()


def file_response(storage: Storage, path: str) -> StreamingFileResponse:
    name = path.rsplit("/", 1)[-1]
    response = StreamingFileResponse(
        storage.open(path, "rb"), as_attachment=True, filename=name, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def zip_of_folders(
    storage: Storage, root: str, folders=("",), *, compression: int = zipfile.ZIP_DEFLATED, memory: int = 0
):
    """A zip of every file below `root`/<folder> for each of `folders`, named relative to `root`, in a
    temporary file rewound to its start (kept in memory up to `memory` bytes, then on disk)."""
    spool = tempfile.SpooledTemporaryFile(max_size=memory) if memory else tempfile.TemporaryFile()  # noqa: SIM115
    start = len(root.strip("/")) + 1 if root.strip("/") else 0
    with zipfile.ZipFile(spool, "w", compression=compression) as archive:
        for folder in folders:
            for file_path in walk_files(storage, join(root, folder)):
                with (
                    storage.open(file_path, "rb") as src,
                    archive.open(file_path[start:], "w", force_zip64=True) as dst,
                ):
                    while chunk := src.read(CHUNK_SIZE):
                        dst.write(chunk)
    spool.seek(0, os.SEEK_SET)
    return spool


def zip_response(spool, *, name: str) -> StreamingFileResponse:
    response = StreamingFileResponse(spool, as_attachment=True, filename=f"{name}.zip", content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    return response


def folder_zip_response(storage: Storage, path: str, *, name: str) -> StreamingFileResponse:
    """A zip of every file below `path`, built in a temporary file (memory stays flat)."""
    return zip_response(zip_of_folders(storage, path), name=name)

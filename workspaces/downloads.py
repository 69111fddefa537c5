"""File and folder downloads from a datastore: always attachments, never rendered by the browser."""

import os
import tempfile
import zipfile

from asgiref.sync import sync_to_async
from django.core.files.storage import Storage
from django.http import FileResponse

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


def folder_zip_response(storage: Storage, path: str, *, name: str) -> StreamingFileResponse:
    """A zip of every file below `path`, built in a temporary file (memory stays flat)."""
    spool = tempfile.TemporaryFile()
    prefix = len(path.strip("/")) + 1 if path else 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file_path in walk_files(storage, path):
            with storage.open(file_path, "rb") as src, archive.open(file_path[prefix:], "w", force_zip64=True) as dst:
                while chunk := src.read(1024 * 1024):
                    dst.write(chunk)
    spool.seek(0, os.SEEK_SET)
    response = StreamingFileResponse(spool, as_attachment=True, filename=f"{name}.zip", content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    return response

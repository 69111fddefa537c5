"""Downloads stream chunk by chunk under ASGI instead of being read whole into memory."""

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

from workspaces.downloads import CHUNK_SIZE, StreamingFileResponse


def test_asgi_iteration_yields_the_file_in_chunks_and_closes_it():
    data = bytes(range(256)) * (CHUNK_SIZE // 256 * 3 + 1)
    handle = io.BytesIO(data)
    response = StreamingFileResponse(handle, as_attachment=True, filename="big.bin")

    async def collect():
        return [part async for part in response]

    with ThreadPoolExecutor(1) as pool:  # its own event loop, whatever other tests left running here
        parts = pool.submit(asyncio.run, collect()).result()
    assert len(parts) == 4 and max(len(p) for p in parts) == CHUNK_SIZE
    assert b"".join(parts) == data
    assert handle.closed


def test_wsgi_iteration_still_works():
    data = b"x" * (CHUNK_SIZE + 10)
    response = StreamingFileResponse(io.BytesIO(data), as_attachment=True, filename="a.bin")
    assert b"".join(response) == data

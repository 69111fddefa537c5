"""Benchmark: a large upload through the resumable data upload API, against a real studio.

Prints figures (not a test): the upload's throughput as a ratio of `cp` of the same file on the
same disk, measured in the same run (target >= 0.7), and the web process's peak RSS growth during
the upload (target <= 100 MB).

    .venv/bin/python bench/upload.py                 # 1 GiB
    .venv/bin/python bench/upload.py --size-mib 256 --chunk-mib 8

The studio runs as `manage.py runstudio` (tests/studio_process.py) with its own temporary data
directory; the file is made in that directory, so `cp` and the upload write to the same disk.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.studio_process import StudioProcess  # noqa: E402

MIB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        left = size
        while left:
            piece = os.urandom(min(8 * MIB, left))
            out.write(piece)
            left -= len(piece)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def web_pid(root: int) -> int:
    """The uvicorn process started by the studio's launcher (honcho gives each process its own
    session, so it is found among the launcher's descendants rather than by process group)."""
    parents, cmdlines = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            cmdlines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue

    def descends(pid: int) -> bool:
        while pid in parents and pid > 1:
            if pid == root:
                return True
            pid = parents[pid]
        return False

    for pid, cmdline in cmdlines.items():
        if b"uvicorn" in cmdline and b"studio.asgi" in cmdline and not cmdline.startswith(b"/bin/sh") and descends(pid):
            return pid
    raise RuntimeError("No uvicorn process below the studio's launcher.")


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


def reset_peak(pid: int) -> bool:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def timed_cp(source: Path, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    os.sync()
    return time.perf_counter() - started


class SendfileClient:
    """HTTP/1.1 PUTs on one keep-alive connection, each body sent with sendfile(2) straight from
    the file: the client costs next to nothing, so the figure is the studio's."""

    def __init__(self, url: str, token: str):
        parts = httpx.URL(url)
        self.host, self.port, self.token = parts.host, parts.port, token
        self.sock = socket.create_connection((self.host, self.port))

    def put_range(self, path: str, handle, start: int, length: int, total: int) -> dict:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n"
            f"Content-Range: bytes {start}-{start + length - 1}/{total}\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        self.sock.sendfile(handle, offset=start, count=length)
        return self._response()

    def _response(self) -> dict:
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        header, body = data.split(b"\r\n\r\n", 1)
        status = int(header.split()[1])
        length = int(
            next(line.split(b":")[1] for line in header.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(body) < length:
            body += self.sock.recv(65536)
        if status != 200:
            raise RuntimeError(f"{status}: {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.sock.close()


def upload(client: httpx.Client, workspace: str, source: Path, chunk_size: int | None, raw=None) -> tuple[dict, int]:
    base = f"/api/v1/workspaces/{workspace}/data"
    size = source.stat().st_size
    session = client.post(f"{base}/uploads", json={"file_name": source.name, "size": size}).raise_for_status().json()
    chunk = chunk_size or session["chunk_size"]
    received, chunks = 0, 0
    with open(source, "rb") as handle:
        while raw is not None and received < size:
            length = min(chunk, size - received)
            received = raw.put_range(f"{base}/uploads/{session['id']}", handle, received, length, size)["received"]
            chunks += 1
        while received < size:
            data = handle.read(min(chunk, size - received))
            response = client.put(
                f"{base}/uploads/{session['id']}",
                content=data,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {received}-{received + len(data) - 1}/{size}",
                },
            )
            response.raise_for_status()
            received = response.json()["received"]
            chunks += 1
    name = f"bench-{int(time.time())}"
    asset = client.post(base, json={"name": name, "type": "uri_file", "uploads": [{"id": session["id"]}]})
    return asset.raise_for_status().json(), chunks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=0, help="Default: the chunk size the studio suggests.")
    parser.add_argument(
        "--client",
        choices=["sendfile", "httpx"],
        default="sendfile",
        help="sendfile: bodies sent by the kernel from the file (measures the studio); httpx: as the CLI sends them.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary data directory.")
    args = parser.parse_args()
    size = args.size_mib * MIB

    data_dir = Path(tempfile.mkdtemp(prefix="studio-bench-", dir=os.environ.get("BENCH_DIR")))
    studio = StudioProcess(data_dir / "studio", extra_env={"STUDIO_MAX_UPLOAD_SIZE": str(4 * size + MIB)})
    try:
        source = data_dir / "payload.bin"
        print(f"Making a {args.size_mib} MiB file of random bytes in {data_dir} …", flush=True)
        make_file(source, size)
        os.sync()
        studio.start()
        pid = web_pid(studio.proc.pid)
        with studio.client() as client:
            client.timeout = httpx.Timeout(600.0)
            client.get("/api/v1/workspaces/my-workspace/data").raise_for_status()  # warm the web process

            cp_seconds = timed_cp(source, data_dir / "copy.bin")
            (data_dir / "copy.bin").unlink()

            before = memory_kib(pid)
            exact_peak = reset_peak(pid)
            started = time.perf_counter()
            raw = (
                SendfileClient(studio.url, client.headers["Authorization"].split()[1])
                if args.client == "sendfile"
                else None
            )
            asset, chunks = upload(client, "my-workspace", source, args.chunk_mib * MIB or None, raw)
            if raw:
                raw.close()
            os.sync()
            upload_seconds = time.perf_counter() - started
            after = memory_kib(pid)

        stored = Path(studio.data_dir) / "storage"
        stored_file = next(p for p in stored.rglob(source.name) if asset["relative_path"] in p.as_posix())
        identical = sha256(stored_file) == sha256(source)

        peak_growth = (after["VmHWM"] - before["VmRSS"]) / 1024
        mb = size / MIB
        print()
        print(f"file                      {mb:.0f} MiB, {chunks} chunks, client: {args.client}")
        print(f"cp (same disk)            {cp_seconds:6.2f} s   {mb / cp_seconds:8.1f} MiB/s")
        print(f"upload through the API    {upload_seconds:6.2f} s   {mb / upload_seconds:8.1f} MiB/s")
        print(f"throughput ratio          {cp_seconds / upload_seconds:6.2f}   (target >= 0.70)")
        print(f"web RSS before            {before['VmRSS'] / 1024:6.1f} MB (uvicorn pid {pid})")
        print(f"web RSS after             {after['VmRSS'] / 1024:6.1f} MB")
        print(
            f"web peak RSS growth       {peak_growth:6.1f} MB   (target <= 100; "
            + ("peak reset before the upload)" if exact_peak else "peak since the process started)")
        )
        print(f"stored bytes identical    {identical}")
        return 0 if identical else 1
    finally:
        studio.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a large upload through the resumable data upload API, against a real studio.

Prints figures (not a test): the upload's throughput as a ratio of `cp` of the same file on the
same disk, measured in the same run (target >= 0.7), and the web process's peak RSS growth during
the upload (target <= 100 MB). cp and the upload alternate over several rounds, because a virtual
disk's speed swings from one second to the next; the best time of each counts, as in
bench/tracking.py, and the medians are printed too. Both include the `sync` that puts the bytes on
disk.

    .venv/bin/python bench/upload.py                 # 1 GiB, 4 chunks at once (a parallel upload)
    .venv/bin/python bench/upload.py --size-mib 256 --chunk-mib 8 --connections 1   # in order

The studio runs as `manage.py runstudio` (tests/studio_process.py) with its own temporary data
directory; the file is made in that directory, so `cp` and the upload write to the same disk.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


def web_pids(root: int) -> list[int]:
    """The uvicorn process started by the studio's launcher and, with several web workers, its
    worker processes (honcho gives each process its own session, so they are found among the
    launcher's descendants rather than by process group)."""
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
            return [pid] + [child for child, parent in parents.items() if parent == pid]
    raise RuntimeError("No uvicorn process below the studio's launcher.")


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def upload(
    client: httpx.Client, workspace: str, source: Path, chunk_size: int | None, connections: int, raw=None
) -> tuple[dict, int]:
    """Upload `source` in chunks over `connections` connections at once (a parallel upload when
    more than one, as azcopy sends blocks), then create a uri_file asset from it."""
    base = workspace_base(workspace)
    size = source.stat().st_size
    session = (
        client.post(f"{base}/uploads", json={"file_name": source.name, "size": size, "parallel": connections > 1})
        .raise_for_status()
        .json()
    )
    url = f"{base}/uploads/{session['id']}"
    chunk = chunk_size or session["chunk_size"]
    starts = iter(range(0, size, chunk))
    lock = threading.Lock()

    def next_start() -> int | None:
        with lock:
            return next(starts, None)

    def send_with_sendfile() -> int:
        sent, sender = 0, raw()
        try:
            with open(source, "rb") as handle:
                while (start := next_start()) is not None:
                    sender.put_range(url, handle, start, min(chunk, size - start), size)
                    sent += 1
        finally:
            sender.close()
        return sent

    def send_with_httpx() -> int:
        sent = 0
        with open(source, "rb") as handle:
            while (start := next_start()) is not None:
                data = os.pread(handle.fileno(), min(chunk, size - start), start)
                response = client.put(
                    url,
                    content=data,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"bytes {start}-{start + len(data) - 1}/{size}",
                    },
                )
                response.raise_for_status()
                sent += 1
        return sent

    send = send_with_sendfile if raw is not None else send_with_httpx
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        chunks = sum(future.result() for future in [pool.submit(send) for _ in range(connections)])
    sent = time.perf_counter()
    name = f"bench-{int(time.time())}"
    asset = client.post(base, json={"name": name, "type": "uri_file", "uploads": [{"id": session["id"]}]})
    print(f"chunks sent in {sent - started:.2f} s, asset created in {time.perf_counter() - sent:.2f} s", flush=True)
    return asset.raise_for_status().json(), chunks


def workspace_base(workspace: str) -> str:
    return f"/api/v1/workspaces/{workspace}/data"


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
    parser.add_argument(
        "--connections",
        type=int,
        default=4,
        help="Chunks sent at once, each on its own connection (a parallel upload); 1: in order, as before.",
    )
    parser.add_argument(
        "--web-workers",
        type=int,
        default=None,
        help="STUDIO_WEB_WORKERS for the studio under test (default: the studio's own, one per core, at most 4).",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="cp and the upload alternate this many times (which goes first alternates too); the best of each counts.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary data directory.")
    args = parser.parse_args()
    size = args.size_mib * MIB
    web_workers = args.web_workers or min(os.cpu_count() or 1, 4)  # the studio's default

    data_dir = Path(tempfile.mkdtemp(prefix="studio-bench-", dir=os.environ.get("BENCH_DIR")))
    studio = StudioProcess(
        data_dir / "studio",
        extra_env={
            "STUDIO_MAX_UPLOAD_SIZE": str(4 * size + MIB),
            "STUDIO_WEB_WORKERS": str(args.web_workers) if args.web_workers else None,  # None: the default
        },
    )
    try:
        source = data_dir / "payload.bin"
        print(f"Making a {args.size_mib} MiB file of random bytes in {data_dir} …", flush=True)
        make_file(source, size)
        os.sync()
        studio.start()
        stored = Path(studio.data_dir) / "storage"
        rounds, identical = [], True
        with studio.client() as client:
            client.timeout = httpx.Timeout(600.0)
            for _ in range(4 * web_workers):  # warm the web processes
                client.get("/api/v1/workspaces/my-workspace/data").raise_for_status()
            pids = web_pids(studio.proc.pid)
            token = client.headers["Authorization"].split()[1]
            raw = (lambda: SendfileClient(studio.url, token)) if args.client == "sendfile" else None

            def copy() -> float:
                seconds = timed_cp(source, data_dir / "copy.bin")
                (data_dir / "copy.bin").unlink()
                os.sync()
                return seconds

            def send() -> dict:
                before = {pid: memory_kib(pid) for pid in pids}
                exact_peak = all([reset_peak(pid) for pid in pids])
                web_cpu = sum(map(cpu_seconds, pids))
                started = time.perf_counter()
                asset, chunks = upload(
                    client, "my-workspace", source, args.chunk_mib * MIB or None, args.connections, raw
                )
                synced = time.perf_counter()
                os.sync()
                print(f"sync after the upload took {time.perf_counter() - synced:.2f} s", flush=True)
                seconds = time.perf_counter() - started
                after = {pid: memory_kib(pid) for pid in pids}
                stored_file = next(p for p in stored.rglob(source.name) if asset["relative_path"] in p.as_posix())
                same = sha256(stored_file) == sha256(source)
                stored_file.unlink()  # the next round writes a fresh file, as cp does
                os.sync()
                return {
                    "seconds": seconds,
                    "chunks": chunks,
                    "web_cpu": sum(map(cpu_seconds, pids)) - web_cpu,
                    # Each web process's own peak growth, summed: a bound on the whole web tier's growth.
                    "peak_growth": sum(after[pid]["VmHWM"] - before[pid]["VmRSS"] for pid in pids) / 1024,
                    "exact_peak": exact_peak,
                    "rss_before": sum(before[pid]["VmRSS"] for pid in pids) / 1024,
                    "rss_after": sum(after[pid]["VmRSS"] for pid in pids) / 1024,
                    "identical": same,
                }

            mb = size / MIB
            for number in range(1, args.rounds + 1):
                # Alternate which goes first, so that neither always meets a disk the other left busy.
                if number % 2:
                    cp_seconds, sent = copy(), send()
                else:
                    sent = send()
                    cp_seconds = copy()
                identical = identical and sent["identical"]
                rounds.append((cp_seconds, sent))
                print(
                    f"round {number}: cp {cp_seconds:5.2f} s ({mb / cp_seconds:7.1f} MiB/s), upload"
                    f" {sent['seconds']:5.2f} s ({mb / sent['seconds']:7.1f} MiB/s), ratio {cp_seconds / sent['seconds']:.2f}",
                    flush=True,
                )

        cp_best = min(cp for cp, _ in rounds)
        up_best = min(rounds, key=lambda r: r[1]["seconds"])[1]
        cp_median = statistics.median(cp for cp, _ in rounds)
        up_median = statistics.median(r[1]["seconds"] for r in rounds)
        peak = max(r[1]["peak_growth"] for r in rounds)
        print()
        print(
            f"file                      {mb:.0f} MiB, {up_best['chunks']} chunks, client: {args.client},"
            f" {args.connections} connection(s), {len(rounds)} round(s)"
        )
        print(f"cp (same disk), best      {cp_best:6.2f} s   {mb / cp_best:8.1f} MiB/s   (median {cp_median:.2f} s)")
        print(
            f"upload via the API, best  {up_best['seconds']:6.2f} s   {mb / up_best['seconds']:8.1f} MiB/s"
            f"   (median {up_median:.2f} s)"
        )
        print(f"throughput ratio          {cp_best / up_best['seconds']:6.2f}   (best against best; target >= 0.70)")
        print(f"ratio of the medians      {cp_median / up_median:6.2f}")
        print(f"CPU of the web processes  {up_best['web_cpu']:6.2f} s   (best round)")
        print(
            f"web RSS before, after     {up_best['rss_before']:6.1f} MB, {up_best['rss_after']:.1f} MB"
            f"   ({len(pids)} web process(es): {web_workers} worker(s))"
        )
        print(
            f"web peak RSS growth       {peak:6.1f} MB   (worst round; target <= 100; "
            + (
                "peak reset before each upload)"
                if all(r[1]["exact_peak"] for r in rounds)
                else "peak since the process started)"
            )
        )
        print(f"stored bytes identical    {identical}")
        return 0 if identical else 1
    finally:
        studio.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

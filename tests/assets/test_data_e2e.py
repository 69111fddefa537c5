"""Data assets against the real studio (web server, Celery worker, scheduler): the `studio data`
CLI with a local folder, uploads interrupted mid-way and resumed, and abandoned uploads."""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

STUDIO_BIN = Path(sys.executable).parent / "studio"
WORKSPACE = "my-workspace"
DATA = f"/api/v1/workspaces/{WORKSPACE}/data"
MIB = 1024 * 1024


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def token(studio):
    return studio.token()


@pytest.fixture
def cli(token, tmp_path):
    """cli(url, *args) -> the finished `studio` process, run in tmp_path."""

    def run(url, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(STUDIO_URL=url, STUDIO_TOKEN=token, STUDIO_WORKSPACE=WORKSPACE)
        return subprocess.run(
            [str(STUDIO_BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    return run


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def make_folder(root: Path, big: int = 0) -> dict[str, bytes]:
    files = {
        "train.csv": b"x,y\n1,2\n3,4\n",
        "images/cat.bin": os.urandom(3000),
        "images/deep/empty.txt": b"",
    }
    if big:
        files["big.bin"] = os.urandom(big)
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return files


def zip_contents(client: httpx.Client, name: str, version: str) -> dict[str, bytes]:
    response = client.get(f"{DATA}/{name}/versions/{version}/files/content")
    response.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}


class DroppingProxy:
    """A TCP proxy to the studio that cuts the connection once, after `drop_after` bytes have gone
    upstream (a dropped connection in the middle of a chunk). Stops with the test."""

    def __init__(self, upstream_port: int, drop_after: int):
        self.upstream_port, self.drop_after = upstream_port, drop_after
        self.sent, self.drops = 0, 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for src, dst, upward in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, upward, client, upstream), daemon=True).start()

    def _pump(self, src, dst, upward, *both):
        try:
            while data := src.recv(65536):
                if upward:
                    with self.lock:
                        self.sent += len(data)
                        cut = self.drops == 0 and self.sent >= self.drop_after
                        if cut:
                            self.drops += 1
                    if cut:
                        for sock in both:
                            sock.shutdown(socket.SHUT_RDWR)
                            sock.close()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in both:
                try:
                    sock.close()
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.server.close()


def test_cli_creates_a_data_asset_from_yaml_with_a_local_folder(studio, cli, tmp_path):
    files = make_folder(tmp_path / "data")
    name = unique("cli-folder")
    (tmp_path / "data.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        f"name: {name}\ntype: uri_folder\npath: ./data\ndescription: From the CLI\ntags:\n  via: cli\n"
    )
    created = json.loads(ok(cli(studio.url, "data", "create", "--file", "data.yml")))
    assert (created["name"], created["version"], created["type"], created["tags"]) == (
        name,
        "1",
        "uri_folder",
        {"via": "cli"},
    )
    assert created["path"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert created["path"].endswith("/data/")
    with studio.client() as client:
        assert zip_contents(client, name, "1") == files
    shown = json.loads(ok(cli(studio.url, "data", "show", "-n", name, "--label", "latest")))
    assert shown["id"] == f"azureml:{name}:1"
    table = ok(cli(studio.url, "data", "list", "-n", name, "-o", "table"))
    assert name in table and "uri_folder" in table
    ok(cli(studio.url, "data", "archive", "-n", name, "-v", "1"))
    assert json.loads(ok(cli(studio.url, "data", "list", "-n", name))) == []
    ok(cli(studio.url, "data", "restore", "-n", name, "-v", "1"))
    assert len(json.loads(ok(cli(studio.url, "data", "list", "-n", name)))) == 1


def test_cli_create_with_name_path_and_type_and_a_bad_yaml(studio, cli, tmp_path):
    (tmp_path / "one.csv").write_bytes(b"a,b\n1,2\n")
    name = unique("cli-file")
    created = json.loads(
        ok(cli(studio.url, "data", "create", "--name", name, "--path", "./one.csv", "--type", "uri_file"))
    )
    assert created["path"].endswith("/one.csv") and created["size"] == 8
    (tmp_path / "bad.yml").write_text(f"name: {name}\ntype: uri_fil\npath: ./one.csv\n")
    result = cli(studio.url, "data", "create", "--file", "bad.yml")
    assert result.returncode == 1
    assert "type: Must be one of" in result.stderr and "(line 2)" in result.stderr


def test_cli_upload_survives_a_dropped_connection_with_identical_bytes(studio, cli, tmp_path):
    files = make_folder(tmp_path / "data", big=20 * MIB)
    proxy = DroppingProxy(studio.port, drop_after=12 * MIB)
    try:
        name = unique("cli-resume")
        created = json.loads(
            ok(cli(proxy.url, "data", "create", "-n", name, "--path", "./data", "--type", "uri_folder"))
        )
    finally:
        proxy.close()
    assert proxy.drops == 1, "the connection was never dropped"
    assert created["size"] == sum(len(c) for c in files.values())
    with studio.client() as client:
        assert zip_contents(client, name, created["version"]) == files


def test_an_upload_interrupted_mid_chunk_resumes_with_identical_bytes(studio, token):
    content = os.urandom(3 * MIB + 12345)
    chunk = MIB
    with studio.client(token) as client:
        session = client.post(f"{DATA}/uploads", json={"file_name": "resumed.bin", "size": len(content)}).json()
        url = f"{DATA}/uploads/{session['id']}"
        for start in (0, chunk):  # two chunks go through
            client.put(
                url,
                content=content[start : start + chunk],
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {start}-{start + chunk - 1}/{len(content)}",
                },
            ).raise_for_status()
        # The third is cut off half-way: headers and half its body, then the connection drops.
        with socket.create_connection(("127.0.0.1", studio.port)) as sock:
            sock.sendall(
                (
                    f"PUT {url} HTTP/1.1\r\nHost: 127.0.0.1:{studio.port}\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/octet-stream\r\nContent-Length: {chunk}\r\n"
                    f"Content-Range: bytes {2 * chunk}-{3 * chunk - 1}/{len(content)}\r\n\r\n"
                ).encode()
            )
            sock.sendall(content[2 * chunk : 2 * chunk + chunk // 2])
        time.sleep(0.5)
        received = client.get(url).json()["received"]
        assert received == 2 * chunk
        # Sending from the wrong place is refused with where to resume.
        wrong = client.put(
            url,
            content=b"x",
            headers={"Content-Type": "application/octet-stream", "Content-Range": f"bytes 0-0/{len(content)}"},
        )
        assert (wrong.status_code, wrong.json()["received"]) == (409, received)
        while received < len(content):
            piece = content[received : received + chunk]
            received = client.put(
                url,
                content=piece,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {received}-{received + len(piece) - 1}/{len(content)}",
                },
            ).json()["received"]
        name = unique("resumed")
        created = client.post(DATA, json={"name": name, "type": "uri_file", "uploads": [{"id": session["id"]}]})
        assert created.status_code == 201, created.text
        download = client.get(f"{DATA}/{name}/versions/1/files/content")
        assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(content).hexdigest()


def test_a_parallel_upload_over_several_connections_makes_an_identical_asset(studio, token):
    from concurrent.futures import ThreadPoolExecutor

    # Chunks of 5 MiB: more than one direct-I/O buffer each; the last one ends off a block boundary.
    content = os.urandom(22 * MIB + 4321)
    chunk = 5 * MIB
    with studio.client(token) as client:
        session = client.post(
            f"{DATA}/uploads", json={"file_name": "parallel.bin", "size": len(content), "parallel": True}
        ).json()
        url = f"{DATA}/uploads/{session['id']}"

        def send(start: int) -> httpx.Response:
            piece = content[start : start + chunk]
            return client.put(
                url,
                content=piece,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(content)}",
                },
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(send, reversed(range(0, len(content), chunk))))
        assert [a.status_code for a in answers] == [200] * len(answers)
        status = client.get(url).json()
        assert (status["received"], status["missing"], status["complete"]) == (len(content), [], True)
        again = send(chunk)  # a second try of a chunk that got through
        assert (again.status_code, again.json()["missing"]) == (409, [])
        name = unique("parallel")
        created = client.post(DATA, json={"name": name, "type": "uri_file", "uploads": [{"id": session["id"]}]})
        assert created.status_code == 201, created.text
        download = client.get(f"{DATA}/{name}/versions/1/files/content")
        assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(content).hexdigest()


def test_an_abandoned_upload_leaves_no_asset_and_is_cleaned_up(studio, token):
    with studio.client(token) as client:
        session = client.post(f"{DATA}/uploads", json={"file_name": "abandoned.bin", "size": 2 * MIB}).json()
        client.put(
            f"{DATA}/uploads/{session['id']}",
            content=os.urandom(MIB),
            headers={"Content-Type": "application/octet-stream", "Content-Range": f"bytes 0-{MIB - 1}/{2 * MIB}"},
        ).raise_for_status()
        staged = Path(studio.data_dir) / "uploads" / f"{uuid.UUID(session['id']).hex}.part"
        assert staged.exists()
        # An incomplete upload cannot become an asset.
        refused = client.post(
            DATA, json={"name": unique("abandoned"), "type": "uri_file", "uploads": [{"id": session["id"]}]}
        )
        assert refused.status_code == 400 and "uploads" in refused.json()["error"]["message"]
        assert not any(
            a["original_name"] == "abandoned.bin" for a in client.get(DATA, params={"include_archived": "1"}).json()
        )
        # The scheduled task removes it once it is stale (run here with no grace period).
        studio.manage(
            "shell",
            "-c",
            "from datetime import timedelta; from assets.data.uploads import upload_sessions_discard_stale; "
            "upload_sessions_discard_stale(older_than=timedelta(0))",
        )
        assert client.get(f"{DATA}/uploads/{session['id']}").status_code == 404
        assert not staged.exists()

"""`studio job create --stream` through a connection that drops mid-stream: the CLI reconnects with
Last-Event-ID to the real studio's SSE route, and every line arrives once, in order."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STUDIO_BIN = Path(sys.executable).parent / "studio"
STREAM_HEAD = re.compile(rb"GET [^ ]*/stream[^\r]* HTTP/1\.1\r\n.*?\r\n\r\n", re.DOTALL)


class DroppingProxy:
    """A TCP proxy to the studio that cuts the first stream connection once `cut_at` has gone through."""

    def __init__(self, upstream_port: int, cut_at: bytes):
        self.upstream_port, self.cut_at = upstream_port, cut_at
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stream_requests: list[bytes] = []
        self.cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        """Pipe both ways (a kept-alive connection carries several requests); record the heads of stream
        requests, and cut the connection the first time `cut_at` comes back through it."""
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
        seen = b""
        try:
            while data := upstream.recv(65536):
                seen = seen[-64:] + data
                if not self.cut and self.cut_at in seen:
                    self.cut = True
                    client.sendall(data[: max(1, len(data) // 2)])  # part of an event, then the line goes dead
                    break
                client.sendall(data)
        except OSError:
            pass
        for sock in (client, upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _requests(self, client: socket.socket, upstream: socket.socket):
        buffered = b""
        try:
            while data := client.recv(65536):
                buffered += data
                while match := STREAM_HEAD.search(buffered):
                    self.stream_requests.append(match[0])
                    buffered = buffered[match.end() :]
                buffered = buffered[-8192:]
                upstream.sendall(data)
        except OSError:
            pass

    def close(self):
        self.server.close()


def test_stream_reconnects_after_a_dropped_connection_and_loses_or_doubles_no_line(studio, tmp_path):
    proxy = DroppingProxy(studio.port, cut_at=b"line 20")
    try:
        (tmp_path / "job.yml").write_text(
            "command: for i in $(seq 1 80); do echo line $i; sleep 0.05; done\n"
            "environment:\n  image: library/python:latest\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(
            STUDIO_URL=f"http://127.0.0.1:{proxy.port}", STUDIO_TOKEN=studio.token(), STUDIO_WORKSPACE="my-workspace"
        )
        result = subprocess.run(
            [str(STUDIO_BIN), "job", "create", "--file", "job.yml", "--stream"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    job, end = json.JSONDecoder().raw_decode(result.stdout)
    assert re.findall(r"^line (\d+)$", result.stdout[end:], re.MULTILINE) == [str(i) for i in range(1, 81)]
    assert "Status: Completed" in result.stdout
    assert proxy.cut and len(proxy.stream_requests) >= 2
    resumed = re.search(rb"(?i)last-event-id: (\d+)", proxy.stream_requests[1])
    assert resumed and int(resumed[1]) > 0

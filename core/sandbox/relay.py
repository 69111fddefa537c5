"""The outside end of a sandbox's network: Unix sockets its loopback ports lead to.

A sandbox has its own network namespace with nothing but loopback. Its first process relays two
loopback ports to two Unix sockets served here, in the process that started the sandbox:

- `api.sock` carries bytes unchanged to the studio's own web server (the tracking URI, the API);
- `proxy.sock` is an HTTP proxy (CONNECT for https, absolute URIs for http) that connects only to
  the studio's own address, to hosts an administrator allow-listed, and, when the sandbox may use
  the internet, to public addresses. Loopback, private, link-local and this host's own addresses
  are refused (core.netaddr), so user code never reaches the database, the broker, another
  tenant's server or a cloud metadata service.
"""

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from core import netaddr

logger = logging.getLogger(__name__)
BUFFER = 256 * 1024
MAX_HEAD = 64 * 1024
CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class Destinations:
    """Where a sandbox's connections may go."""

    studio: tuple[str, int] | None = None  # the studio's web server, as this host reaches it
    studio_names: frozenset[tuple[str, int]] = field(default_factory=frozenset)  # how user code names it
    internet: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)  # "host" or "host:port"

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        """The address to connect to for `host:port`, or PermissionError saying why not."""
        host = host.strip("[]").lower()
        if self.studio and (host, port) in self.studio_names:
            return self.studio
        if host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts:
            return host, port
        if netaddr.is_address(host) and netaddr.is_internal(host):
            raise PermissionError(
                f"{host}:{port} is an address on the studio's own network, which user code may not reach."
            )
        if not self.internet:
            raise PermissionError(f"{host}:{port} is not reachable: this sandbox has no internet access.")
        try:
            public = netaddr.resolve_public(host, port)
        except OSError as exc:
            raise PermissionError(f"{host} does not resolve: {exc}") from None
        if not public:
            raise PermissionError(
                f"{host}:{port} is an address on the studio's own network, which user code may not reach."
            )
        return public[0], port


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(BUFFER)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((target, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def _splice(client: socket.socket, upstream: socket.socket, first: bytes = b"") -> None:
    try:
        if first:
            upstream.sendall(first)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
    finally:
        client.close()
        upstream.close()


def _refuse(client: socket.socket, status: str, reason: str) -> None:
    body = (reason + "\n").encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        client.sendall(head.encode() + body)
    except OSError:
        pass
    client.close()


def _read_head(client: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(8192)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEAD:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, port = authority[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = authority.rpartition(":") if authority.count(":") == 1 else (authority, "", "")
    return host, int(port) if port else default_port


class Relay:
    """Serves one sandbox's `api.sock` and `proxy.sock` in `folder` until closed."""

    def __init__(self, folder: Path, destinations: Destinations, *, owner: int | None = None):
        self.folder = folder
        self.destinations = destinations
        self.listeners: list[socket.socket] = []
        self.owner = owner
        self.closed = False

    @property
    def api_socket(self) -> Path:
        return self.folder / "api.sock"

    @property
    def proxy_socket(self) -> Path:
        return self.folder / "proxy.sock"

    def _listen(self, path: Path, handler) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Through the folder's descriptor: a socket path may be only 107 bytes long.
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            listener.bind(f"/proc/self/fd/{folder}/{path.name}")
        finally:
            os.close(folder)
        os.chmod(path, 0o600)
        if self.owner is not None:
            os.chown(path, self.owner, self.owner)
        listener.listen(128)
        self.listeners.append(listener)
        threading.Thread(target=self._accept, args=(listener, handler), daemon=True).start()

    def start(self) -> "Relay":
        if self.destinations.studio:
            self._listen(self.api_socket, self._studio)
        self._listen(self.proxy_socket, self._proxy)
        return self

    def close(self) -> None:
        self.closed = True
        for listener in self.listeners:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()

    def _accept(self, listener: socket.socket, handler) -> None:
        while not self.closed:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(handler, client), daemon=True).start()

    def _handle(self, handler, client: socket.socket) -> None:
        try:
            handler(client)
        except Exception:  # noqa: BLE001 - one connection's failure never ends the relay
            logger.debug("Sandbox relay connection failed", exc_info=True)
            client.close()

    def _studio(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.destinations.studio, timeout=CONNECT_TIMEOUT)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _splice(client, upstream)

    def _proxy(self, client: socket.socket) -> None:
        parsed = _read_head(client)
        if parsed is None:
            client.close()
            return
        head, rest = parsed
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3:
            return _refuse(client, "400 Bad Request", "Not an HTTP proxy request.")
        method, target, version = parts
        try:
            if method == "CONNECT":
                host, port = _split_authority(target, 443)
            elif target.startswith("http://"):
                authority, _, path = target[len("http://") :].partition("/")
                host, port = _split_authority(authority, 80)
            else:
                return _refuse(client, "400 Bad Request", "Send CONNECT host:port or an absolute http:// URL.")
            address = self.destinations.resolve(host, port)
        except PermissionError as exc:
            logger.info("Sandbox proxy refused %s %s: %s", method, target[:200], exc)
            return _refuse(client, "403 Forbidden", str(exc))
        except ValueError:
            return _refuse(client, "400 Bad Request", f"Bad address {target[:200]!r}.")
        try:
            upstream = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            return _refuse(client, "502 Bad Gateway", f"{host}:{port} could not be reached: {exc}")
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a relay adds no delay of its own
        if method == "CONNECT":
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return _splice(client, upstream, rest)
        # One request per connection: the next one may be for another host.
        headers = [
            h
            for h in header_lines
            if h and h.split(":", 1)[0].strip().lower() not in ("proxy-connection", "proxy-authorization", "connection")
        ]
        forwarded = "\r\n".join([f"{method} /{path} {version}", *headers, "Connection: close", "", ""])
        _splice(client, upstream, forwarded.encode("latin-1") + rest)

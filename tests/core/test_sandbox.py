"""The sandbox every piece of user code starts in (core.sandbox), against the host's real bubblewrap:
what the code sees, may write, may reach, and that nothing it starts outlives it."""

import http.server
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from core import netaddr, sandbox
from core.sandbox.relay import Destinations

pytestmark = pytest.mark.skipif(not sandbox.status().isolated, reason="needs bubblewrap (make test installs it)")


@pytest.fixture
def box(settings, tmp_path):
    """run(script, **spec) -> (exit code, output) of `bash -c script` in a sandbox."""
    settings.STUDIO_DATA_DIR = tmp_path / "data"
    settings.STUDIO_DATA_DIR.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    uid = sandbox.uid_for(7) if os.geteuid() == 0 else None
    if uid is not None:
        os.chown(work, uid, uid)

    def run(script: str, *, binds=(), network=sandbox.Network.NONE, limits=None, timeout=60):
        spec = sandbox.Spec(
            name="test-box",
            argv=["/bin/bash", "-c", script],
            cwd=work,
            env={"TOKEN": "secret-token"},
            binds=[sandbox.Bind(work, writable=True), *binds],
            network=network,
            limits=limits or sandbox.Limits(),
            uid=uid,
        )
        process = sandbox.start(spec)
        try:
            output = process.stdout.read().decode()
            code = process.wait(timeout=timeout)
        finally:
            process.close()
        return code, output, process

    run.work = work
    run.uid = uid
    return run


def test_the_command_runs_as_an_unprivileged_user_with_no_capabilities(box):
    code, output, _ = box("id -u; grep CapEff /proc/self/status")
    uid, caps = output.split("\n")[:2]
    assert code == 0
    assert uid == str(box.uid if box.uid is not None else os.geteuid())
    assert uid != "0" or os.geteuid() != 0
    assert caps.split()[-1] == "0000000000000000"


def test_exit_codes_and_signals_are_reported_as_popen_does(box):
    assert box("exit 3")[0] == 3
    assert box("kill -9 $$")[0] == -9


def test_the_hosts_files_and_processes_are_not_visible(box, settings, tmp_path):
    """SECURITY 26: the data directory (database, key file, other workspaces) and the host's
    processes (the web server's environment) are not in the sandbox."""
    secret = settings.STUDIO_DATA_DIR / "studio.sqlite3"
    secret.write_text("sessions and credentials")
    me = os.getpid()
    code, output, _ = box(
        f"cat {secret} 2>&1; ls {settings.STUDIO_DATA_DIR} 2>&1; cat /proc/{me}/environ 2>&1; "
        "cat /proc/1/environ 2>&1; ls /proc | grep -c '^[0-9]'"
    )
    assert "sessions and credentials" not in output
    assert "No such file or directory" in output
    assert "Permission denied" in output  # /proc/1 is the sandbox's own first process, not the host's
    assert int(output.strip().splitlines()[-1]) < 10  # only the sandbox's own few processes


def test_read_only_binds_fail_with_erofs_and_writable_binds_keep_the_writes(box, tmp_path):
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n")
    code, output, _ = box(
        f"echo x > {data}/rows.csv; echo new > {data}/new.csv; touch /usr/pwned; echo kept > out.txt",
        binds=[sandbox.Bind(data)],
    )
    assert output.count("Read-only file system") == 3, output
    assert (data / "rows.csv").read_text() == "a,b\n"
    assert (box.work / "out.txt").read_text() == "kept\n"


def test_nothing_the_command_started_outlives_it(box):
    """SECURITY 29: `setsid nohup ... &` and double forks end with the command."""
    marker = f"{time.time() % 1000:.6f}"
    code, output, _ = box(f"(setsid nohup sleep {marker} >/dev/null 2>&1 &); (sleep {marker} &) ; echo started")
    assert code == 0 and "started" in output
    time.sleep(0.3)
    found = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout
    assert found == ""


def test_kill_gives_the_command_its_grace_then_ends_the_whole_sandbox(box, settings):
    spec = sandbox.Spec(
        name="grace",
        argv=[
            "/bin/bash",
            "-c",
            "trap 'echo got TERM; exit 0' TERM; (setsid sleep 1000 &); echo ready; sleep 1000 & wait",
        ],
        cwd=box.work,
        env={},
        binds=[sandbox.Bind(box.work, writable=True)],
        network=sandbox.Network.NONE,
        uid=box.uid,
    )
    process = sandbox.start(spec)
    assert process.stdout.readline() == b"ready\n"
    process.kill(grace=5)
    output = process.stdout.read().decode()
    process.wait(timeout=10)
    process.close()
    assert "got TERM" in output
    assert subprocess.run(["pgrep", "-f", "^sleep 1000$"], capture_output=True).stdout == b""


@pytest.mark.parametrize("backend", ["bwrap", "none"])
def test_a_cancel_reaches_the_shell_and_its_child_together(box, settings, backend):
    """The shell must not see its child die of the SIGTERM and run its next command first."""
    settings.STUDIO_SANDBOX = backend
    sandbox._probe.cache_clear()
    try:
        for _ in range(5):
            spec = sandbox.Spec(
                name="together",
                argv=["/bin/bash", "-c", "echo started; sleep 100; echo never"],
                cwd=box.work,
                env={},
                binds=[sandbox.Bind(box.work, writable=True)],
                network=sandbox.Network.NONE,
                uid=box.uid,
            )
            process = sandbox.start(spec)
            assert process.stdout.readline() == b"started\n"
            time.sleep(0.1)
            process.kill(grace=5)
            rest = process.stdout.read().decode()
            process.wait(timeout=10)
            process.close()
            assert "never" not in rest
    finally:
        sandbox._probe.cache_clear()


class _Server(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the handler's interface
        body = f"{self.path} {self.headers.get('Authorization', '')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def host_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


CURL = "curl -s -m 5 -o - -w ' %{http_code}' "


def test_the_studios_url_is_reachable_and_nothing_else_on_the_host(box, settings, host_server):
    """SECURITY 41: the host's database, broker and other servers are refused; the studio's own
    URL (here a stand-in server) answers, with the very URL the job is given."""
    studio = socket.socket()
    studio.bind(("127.0.0.1", 0))
    studio.listen()
    settings.STUDIO_PUBLIC_URL = f"http://127.0.0.1:{host_server}"
    code, output, _ = box(
        f"{CURL} -H 'Authorization: Bearer t' http://127.0.0.1:{host_server}/mlflow; echo; "
        f"{CURL} http://localhost:{host_server}/again; echo; "
        f"{CURL} http://127.0.0.1:{studio.getsockname()[1]}/other; echo; "
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 5432), timeout=2)\" 2>&1 | tail -1; "
        f"{CURL} -x http://127.0.0.1:3128 --noproxy '' http://127.0.0.1:6379/; echo",
        network=sandbox.Network.STUDIO,
    )
    studio.close()
    lines = output.splitlines()
    assert lines[0] == "/mlflow Bearer t 200"
    assert lines[1] == "/again  200"
    assert lines[2].endswith(" 000")  # nothing listens there inside the sandbox
    assert "Connection refused" in lines[3]
    assert lines[4] == "127.0.0.1:6379 is an address on the studio's own network, which user code may not reach."
    assert lines[5] == " 403"


def host_address() -> str:
    """One of this host's own non-loopback IPv4 addresses (internal, so refused unless allow-listed)."""
    found = sorted(str(a) for a in netaddr._own_addresses() if a.version == 4 and not a.is_loopback)
    if not found:
        pytest.skip("this host has no non-loopback IPv4 address")
    return found[0]


@pytest.fixture
def lan_server():
    """A server on all of this host's addresses, as a package mirror on the studio's network is."""
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield host_address(), server.server_address[1]
    server.shutdown()


def test_the_proxy_reaches_internal_hosts_only_when_allow_listed(box, settings, lan_server):
    host, port = lan_server
    refused = box(f"{CURL} http://{host}:{port}/mirror", network=sandbox.Network.INTERNET)[1]
    assert refused.startswith(f"{host}:{port} is an address on the studio's own network") and refused.endswith("403")
    settings.STUDIO_SANDBOX_ALLOWED_HOSTS = [f"{host}:{port}"]
    code, output, _ = box(f"{CURL} http://{host}:{port}/mirror", network=sandbox.Network.STUDIO)
    assert output == "/mirror  200"


def test_the_proxy_refuses_internal_addresses_even_with_internet_access(monkeypatch):
    for internet in (True, False):
        for host in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.1", "::1", "[fd00::1]"):
            with pytest.raises(PermissionError, match="studio's own network"):
                Destinations(internet=internet).resolve(host, 80)
    monkeypatch.setattr(netaddr, "resolve_public", lambda host, port: [])
    with pytest.raises(PermissionError, match="studio's own network"):
        Destinations(internet=True).resolve("metadata.internal", 80)
    monkeypatch.setattr(netaddr, "resolve_public", lambda host, port: ["203.0.113.9"])
    destinations = Destinations(internet=True)
    assert destinations.resolve("example.org", 443) == ("203.0.113.9", 443)
    with pytest.raises(PermissionError, match="no internet access"):
        Destinations(internet=False).resolve("example.org", 443)


@pytest.mark.parametrize(
    "address, internal",
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.20.0.1", True),
        ("100.64.0.1", True),
        ("169.254.169.254", True),
        ("::ffff:127.0.0.1", True),
        ("fe80::1", True),
        ("8.8.8.8", False),
        ("203.0.113.80", False),
        ("not-an-address", True),
    ],
)
def test_internal_addresses(address, internal):
    assert netaddr.is_internal(address) is internal


def test_a_memory_limit_stops_the_command_and_says_so(box):
    code, output, process = box(
        "python3 -c 'x = bytearray(600 * 1024 * 1024); print(len(x))'",
        limits=sandbox.Limits(memory_bytes=200 * 1024**2),
    )
    if "memory" not in process.limits_applied:
        pytest.skip("this host gives the studio no memory cgroup")
    assert code == -9
    assert process.out_of_memory


def test_without_a_sandbox_the_status_says_so(settings):
    sandbox._probe.cache_clear()
    settings.STUDIO_SANDBOX = "none"
    try:
        status = sandbox.status()
        assert (status.backend, status.isolated) == ("none", False)
        assert "STUDIO_SANDBOX=none" in status.reason
    finally:
        sandbox._probe.cache_clear()


def test_the_run_folder_is_removed_after_close(box, settings):
    box("true")
    assert list((settings.STUDIO_DATA_DIR / "sandboxes").iterdir()) == []


def test_environment_is_only_what_the_spec_gives(box, monkeypatch):
    monkeypatch.setenv("STUDIO_ADMIN_PASSWORD", "do-not-leak-" + uuid.uuid4().hex)
    code, output, _ = box("env")
    assert "do-not-leak" not in output
    assert "TOKEN=secret-token" in output
    assert "HOME=/home/azureuser" in output


def test_python_binds_cover_a_virtualenv_and_its_base_interpreter(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    binds = sandbox.python_binds(venv / "bin" / "python")
    assert [b.source for b in binds] == [venv, Path("/usr")]
    assert not any(b.writable for b in binds)

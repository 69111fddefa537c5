"""Environment builds run packages' own code (an sdist's setup.py): a real uv build in the real
sandbox, of a package that tries what a hostile tenant's would (SECURITY 32)."""

import http.server
import io
import os
import tarfile
import threading

import pytest

from assets.environments import envbuild
from assets.environments import services as env_services
from assets.environments.tasks import build_environment
from assets.models import BuildStatus, EnvironmentBuild
from core import netaddr, sandbox

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not sandbox.status().isolated, reason="needs bubblewrap (make test installs it)"),
]

SETUP_PY = """
import os, socket
from setuptools import setup

results = []


def attempt(name, action):
    try:
        action()
        results.append(name + "=DONE")
    except Exception as exc:
        results.append(name + "=" + type(exc).__name__)


attempt("read_database", lambda: open({database!r}, "rb").read())
attempt("read_key", lambda: open({key!r}).read())
attempt("write_outside", lambda: open({outside!r}, "w").write("pwned"))
attempt("write_other_build", lambda: open({other_build!r}, "w").write("pwned"))
attempt("connect_database", lambda: socket.create_connection(("127.0.0.1", 5432), timeout=2))
attempt("connect_broker", lambda: socket.create_connection(("127.0.0.1", 6379), timeout=2))
raise SystemExit("SANDBOX-RESULTS " + " ".join(results))
setup(name="hostile", version="0.1")
"""


def sdist(setup_py: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in {
            "hostile-0.1/setup.py": setup_py,
            "hostile-0.1/PKG-INFO": "Metadata-Version: 2.1\nName: hostile\nVersion: 0.1\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def package_server(settings, monkeypatch):
    """A package index on this host's own address, allow-listed for sandboxes (a mirror on the
    studio's network), as an extra index beside PyPI."""
    address = sorted(str(a) for a in netaddr._own_addresses() if a.version == 4 and not a.is_loopback)
    if not address:
        pytest.skip("this host has no non-loopback IPv4 address")
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 - the handler's interface
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html" if self.path.endswith("/") else "application/octet-stream")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            return body

        def do_GET(self):  # noqa: N802 - the handler's interface
            self.wfile.write(self.do_HEAD() or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"{address[0]}:{server.server_address[1]}"
    settings.STUDIO_SANDBOX_ALLOWED_HOSTS = [host]
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", f"http://{host}/simple/")
    yield host, files
    server.shutdown()


def test_a_hostile_setup_py_reaches_nothing_but_its_own_build(workspace, owner, settings, package_server, tmp_path):
    _, files = package_server
    data = settings.STUDIO_DATA_DIR
    (data / "studio.sqlite3").write_bytes(b"SQLite format 3\0")
    (data / "secret_key").write_text("the key")
    outside = tmp_path / "outside.txt"
    other = env_services.environment_create(workspace=workspace, user=owner, name="other", pip_requirements="six")
    other_folder = envbuild.build_folder(other.build.spec_hash)
    other_folder.mkdir(parents=True)
    other_file = other_folder / "requirements.txt"
    other_file.write_text("six\n")
    files["simple/hostile/"] = b'<a href="/files/hostile-0.1.tar.gz">hostile-0.1.tar.gz</a>'
    files["files/hostile-0.1.tar.gz"] = sdist(
        SETUP_PY.format(
            database=str(data / "studio.sqlite3"),
            key=str(data / "secret_key"),
            outside=str(outside),
            other_build=str(other_file),
        )
    )
    environment = env_services.environment_create(
        workspace=workspace, user=owner, name="hostile", pip_requirements="hostile==0.1"
    )
    build_environment(environment.build_id)
    build = EnvironmentBuild.objects.get(pk=environment.build_id)
    assert build.status == BuildStatus.FAILED
    log = envbuild.log_path(build.spec_hash).read_text()
    assert "SANDBOX-RESULTS" in log, log[-3000:]
    # Wheels only first (nothing of the package runs), then from source in the workspace's own cache.
    assert "A package comes as source only: building again in this workspace's own package cache" in log
    results = dict(item.split("=") for item in log.split("SANDBOX-RESULTS ", 1)[1].split()[:6])
    assert results["read_database"] == results["read_key"] == "FileNotFoundError"  # not in the sandbox at all
    # The data directory's path exists there only as the empty parents of the build's own folders.
    assert results["write_outside"] in ("FileNotFoundError", "PermissionError", "OSError")
    assert results["write_other_build"] == "FileNotFoundError"
    assert results["connect_database"] == results["connect_broker"] == "ConnectionRefusedError"
    assert not outside.exists()
    assert other_file.read_text() == "six\n"
    assert not envbuild.venv_path(build.spec_hash).exists()


def test_a_built_environment_is_read_only_to_the_builds_and_jobs_that_follow(workspace, owner):
    """The venv a build leaves is owned by the builder's uid (when the studio runs as root): a job's
    uid could not write it even where a bind were writable."""
    environment = env_services.environment_create(workspace=workspace, user=owner, name="six", pip_requirements="six")
    build_environment(environment.build_id)
    build = EnvironmentBuild.objects.get(pk=environment.build_id)
    assert build.status == BuildStatus.SUCCEEDED, build.error
    venv = envbuild.venv_path(build.spec_hash)
    site = next(venv.glob("lib/python3*/site-packages"))
    if os.geteuid() == 0:
        assert site.stat().st_uid == sandbox.uid_for(sandbox.BUILDER_UID_OFFSET)
        assert site.stat().st_uid != sandbox.uid_for(workspace.pk)
    assert not site.stat().st_mode & 0o022  # writable by its owner only


def wheel(name: str, files: dict[str, str]) -> bytes:
    """A minimal wheel: its files, METADATA, WHEEL and RECORD."""
    import zipfile

    dist = f"{name}-0.1.dist-info"
    files = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def test_a_wheels_only_build_runs_none_of_the_packages_code(workspace, owner, settings, package_server):
    """Installing a wheel runs none of its code, so such builds may share one package cache; a
    `.pth` file in it (code that runs at every start of the interpreter) does not run while the
    studio builds or lists the environment."""
    _, files = package_server
    marker = envbuild.scope_folder(envbuild.SHARED) / "pth-ran"
    pth = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    whl = "pthpkg-0.1-py3-none-any.whl"
    files["simple/pthpkg/"] = f'<a href="/files/{whl}">{whl}</a>'.encode()
    files[f"files/{whl}"] = wheel("pthpkg", {"pthpkg.pth": pth, "pthpkg_module.py": ""})
    environment = env_services.environment_create(
        workspace=workspace, user=owner, name="pth", pip_requirements="pthpkg==0.1"
    )
    build_environment(environment.build_id)
    build = EnvironmentBuild.objects.get(pk=environment.build_id)
    assert build.status == BuildStatus.SUCCEEDED, envbuild.log_path(build.spec_hash).read_text()[-3000:]
    assert envbuild.installed_packages(build.spec_hash) == ["pthpkg==0.1"]
    assert not marker.exists()
    assert "building again" not in envbuild.log_path(build.spec_hash).read_text()

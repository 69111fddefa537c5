"""The one place the studio talks to `uv`: building an environment's virtualenv in the registry.

Registry layout (the seed's "image in the container registry"), one folder per resolved spec:

    STUDIO_DATA_DIR/registry/<spec hash>/
        build.log           uv's output, each line timestamped; appended to by every attempt
        requirements.txt    the resolved requirements that were installed
        requirements.lock   what was installed, version by version (`uv pip freeze`)
        venv/               the virtualenv; appears only once it is complete

A build happens in a scope's folder (`building/<random>/`, beside the scope's uv cache, so uv
hard-links files from its cache instead of copying them) and is renamed to `venv/` when it has
succeeded, so a half-built virtualenv is never used. uv never downloads a Python: the version
asked for must be one the machine has.

Every uv command runs in the studio's sandbox (core.sandbox), which reads nothing of the studio's
data and reaches the network only through the sandbox's proxy. A build first installs wheels only
(as pip's --prefer-binary would choose them): installing a wheel runs none of the package's code,
so those builds share one package cache, `STUDIO_SHARED_PACKAGE_CACHE`, which only uv itself ever
writes. When the spec needs a package built from source (an sdist's setup.py runs), the build
starts again in its own scope (the workspace's, or "studio" for curated environments) with that
scope's cache, `registry/.scopes/<scope>/`: no workspace's build code can reach a cache another
workspace's build reads. The interpreter of a built environment is never run outside a sandbox
either (a package's `.pth` file runs at every start); what was installed is read from the
packages' metadata files.
"""

import errno
import os
import re
import shlex
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from core import sandbox

from .packages import STUDIO_PYTHON, ResolvedSpec

DEFAULT_TIMEOUT = 30 * 60  # seconds for one uv command
_NOT_FOUND = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry")
_NO_VERSION = re.compile(r"there (?:is|are) no versions? of ([A-Za-z0-9][A-Za-z0-9._-]*)([^\s,]*)")


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    error: str = ""


def registry_root() -> Path:
    return Path(settings.STUDIO_DATA_DIR) / "registry"


def build_folder(spec_hash: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", spec_hash):
        raise ValueError(f"Not a spec hash: {spec_hash!r}")
    return registry_root() / spec_hash


def log_path(spec_hash: str) -> Path:
    return build_folder(spec_hash) / "build.log"


def venv_path(spec_hash: str) -> Path:
    return build_folder(spec_hash) / "venv"


def python_path(spec_hash: str) -> Path:
    """The interpreter a job in this environment runs with."""
    return venv_path(spec_hash) / "bin" / "python"


def is_built(spec_hash: str) -> bool:
    return python_path(spec_hash).exists()


def installed_packages(spec_hash: str) -> list[str]:
    lock = build_folder(spec_hash) / "requirements.lock"
    return lock.read_text().splitlines() if lock.exists() else []


def uv_binary() -> Path:
    """The uv executable the studio's requirements installed."""
    from uv import find_uv_bin

    return Path(find_uv_bin())


SHARED = "shared"  # the scope of builds that install wheels only


def scope_folder(scope: str) -> Path:
    """What builds of one scope may write: uv's package cache and the virtualenvs being built."""
    if scope == SHARED and settings.STUDIO_SHARED_PACKAGE_CACHE:
        return Path(settings.STUDIO_SHARED_PACKAGE_CACHE)
    return registry_root() / ".scopes" / (scope or "studio")


def cache_folder(scope: str) -> Path:
    return scope_folder(scope) / "uv-cache"


def _uv_env(scope: str) -> dict:
    env = {
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_PREFERENCE": "only-system",
        "UV_CACHE_DIR": str(cache_folder(scope)),
        "UV_NO_PROGRESS": "1",
        "NO_COLOR": "1",
        "COLUMNS": "1000",  # one log line per message; the browser wraps them
    }
    for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_OFFLINE", "SSL_CERT_FILE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _python_request(python: str) -> str:
    """The studio's own major.minor is asked for by its interpreter's path, so uv picks that very Python."""
    if python == STUDIO_PYTHON:
        return os.path.realpath(sys.executable)
    return python


class _Sandbox:
    """What the uv commands of one build attempt may see: the build folder (read-only), the
    scope's folder with its cache and the new virtualenv (writable), uv and the Python it builds with."""

    def __init__(self, spec: ResolvedSpec, folder: Path, scope: str):
        self.spec = spec
        self.folder = folder
        self.scope = scope
        self.scope_folder = scope_folder(scope)
        cache_folder(scope).mkdir(parents=True, exist_ok=True)
        isolated = sandbox.status().isolated
        uid = sandbox.uid_for(sandbox.BUILDER_UID_OFFSET) if os.geteuid() == 0 and isolated else None
        # Whoever writes the scope owns all of it: the builder's uid, or the studio's own user when
        # builds run without the sandbox (a host that switched between the two gets it back).
        owner = self.scope_folder / ".owner"
        wanted = str(uid if uid is not None else os.geteuid())
        if os.geteuid() == 0 and (not owner.exists() or owner.read_text() != wanted):
            sandbox.chown_tree(self.scope_folder, int(wanted))
            owner.write_text(wanted)
        self.uid = uid
        self.binds = [
            sandbox.Bind(folder),
            sandbox.Bind(self.scope_folder, writable=True),
            sandbox.Bind(uv_binary()),
            *sandbox.python_binds(Path(os.path.realpath(sys.executable))),
        ]

    def new_venv(self) -> Path:
        """An empty folder for the new virtualenv, beside the scope's cache."""
        temp = self.scope_folder / "building" / uuid.uuid4().hex[:12]
        temp.mkdir(parents=True)
        if self.uid is not None:
            os.chown(temp.parent, self.uid, self.uid)
            os.chown(temp, self.uid, self.uid)
        return temp

    def spec_for(self, command: list[str], name: str) -> sandbox.Spec:
        return sandbox.Spec(
            name=name,
            argv=command,
            cwd=self.folder,
            env=_uv_env(self.scope),
            binds=self.binds,
            network=sandbox.Network.INTERNET,
            uid=self.uid,
        )


class BuildLog:
    """Appends timestamped lines to the build log, flushed as they come (the browser tails it)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in close()
        self.tail: list[str] = []

    def write(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = line.rstrip("\r\n")
        self._file.write(f"{stamp} {line}\n")
        self._file.flush()
        self.tail = (self.tail + [line])[-200:]

    def close(self) -> None:
        self._file.close()


def _run(script: str, *, log: BuildLog, box: _Sandbox, timeout: float) -> int:
    """Run the build's uv commands (a shell script) in one sandbox, streaming their output into
    the log; end the sandbox at the timeout."""
    process = sandbox.start(box.spec_for(["/bin/sh", "-c", script], f"build-{box.spec.hash[:12]}"))
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.kill(grace=0)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            log.write(raw.decode(errors="replace"))
        code = process.wait()
    finally:
        timer.cancel()
        process.close()
    if timed_out.is_set():
        log.write(f"Stopped: the build took longer than {int(timeout)} seconds.")
        return -1
    return code


# The steps of a build, each ending the script with its own exit code when it fails.
FIND, CREATE, INSTALL = 11, 12, 13
_SOURCE_NEEDED = "building from source is disabled"


def _script(*, uv: str, python: str, temp: Path, requirements: bool, wheels_only: bool) -> str:
    """The build as one shell script: each uv command echoed before it runs, as the log shows it."""
    steps = [
        (FIND, [uv, "python", "find", python, "--no-config"]),
        (CREATE, [uv, "venv", str(temp), "--python", python, "--relocatable", "--no-config"]),
    ]
    if requirements:
        install = [uv, "pip", "install", "--python", f"{temp}/bin/python", "-r", "requirements.txt", "--no-config"]
        steps.append((INSTALL, [*install, "--no-build"] if wheels_only else install))
    lines = []
    for code, command in steps:
        lines.append(f"echo {shlex.quote('$ ' + ' '.join(['uv', *command[1:]]))}")
        lines.append(f"{shlex.join(command)} || exit {code}")
    return "\n".join(lines) + "\n"


def installed(venv: Path) -> list[str]:
    """`name==version` of every package in a virtualenv, read from its metadata files (running
    its interpreter would run its packages' `.pth` files)."""
    from email.parser import HeaderParser

    found = []
    for metadata in sorted(venv.glob("lib/python*/site-packages/*.dist-info/METADATA")):
        headers = HeaderParser().parsestr(metadata.read_text(errors="replace"))
        if headers["Name"] and headers["Version"]:
            found.append(f"{headers['Name']}=={headers['Version']}")
    return sorted(found, key=str.lower)


def _move(source: Path, target: Path) -> None:
    """Rename, or copy where the shared cache lies on another filesystem."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(source, target, symlinks=True)
        shutil.rmtree(source, ignore_errors=True)


def explain_failure(tail: list[str], spec: ResolvedSpec) -> str:
    """A sentence naming what went wrong, from uv's last lines."""
    text = " ".join(line.strip() for line in tail)  # uv wraps long messages; rejoin them
    missing = _NOT_FOUND.findall(text)
    if missing:
        messages = []
        for name in dict.fromkeys(missing):
            conda_name = spec.from_conda.get(name) or spec.from_conda.get(name.lower())
            if conda_name:
                messages.append(f"Package '{conda_name}' from conda_file has no PyPI equivalent.")
            else:
                messages.append(f"Package '{name}' was not found on the package index (PyPI).")
        return " ".join(messages)
    no_version = _NO_VERSION.search(text)
    if no_version:
        name = no_version[1]
        origin = " (from conda_file)" if name in spec.from_conda else ""
        return f"No version of '{name}'{origin} on the package index matches {name}{no_version[2]}."
    if "No solution found" in text:
        cause = next((line.strip() for line in tail if "Because" in line or "cause" in line.lower()), "")
        return "uv found no set of package versions that satisfies the requirements. " + cause
    last = next((line.strip() for line in reversed(tail) if line.strip().startswith("error")), "")
    return last or "The build failed; see the build log."


def build(spec: ResolvedSpec, *, spec_hash: str, timeout: float = DEFAULT_TIMEOUT) -> BuildResult:
    """Build the virtualenv for `spec` into the registry; never leaves a half-built `venv/`."""
    folder = build_folder(spec_hash)
    folder.mkdir(parents=True, exist_ok=True)
    log = BuildLog(log_path(spec_hash))
    started = time.monotonic()
    try:
        log.write(f"=== Build of environment image {spec_hash[:12]} started ===")
        log.write(f"Python {spec.python}; {len(spec.requirements)} requirement(s)")
        (folder / "requirements.txt").write_text(spec.requirements_text)
        code = _attempt(spec, spec_hash, folder, log, scope=SHARED, wheels_only=True, timeout=timeout)
        if code == INSTALL and any(_SOURCE_NEEDED in line for line in log.tail[-20:]):
            log.write(
                "A package comes as source only: building again in this "
                f"{'workspace' if spec.scope else 'studio'}'s own package cache, where its build code runs."
            )
            code = _attempt(spec, spec_hash, folder, log, scope=spec.scope, wheels_only=False, timeout=timeout)
        if code == FIND:
            error = (
                f"Python {spec.python} is not available on this studio (it runs Python {STUDIO_PYTHON}); "
                f"the studio does not download Python interpreters. Ask for python={STUDIO_PYTHON} "
                f"or install Python {spec.python} on the worker."
            )
        elif code == -1:
            error = f"The build took longer than {int(timeout)} seconds."
        elif code != 0:
            error = explain_failure(log.tail, spec)
        if code != 0:
            log.write(f"Failed: {error}")
            return BuildResult(ok=False, error=error)
        log.write(
            f"Succeeded in {time.monotonic() - started:.1f} s: {len(installed_packages(spec_hash))} package(s) installed."
        )
        return BuildResult(ok=True)
    except Exception as exc:  # noqa: BLE001 - any failure is the build's, recorded on its row
        log.write(f"Failed: {exc}")
        return BuildResult(ok=False, error=f"The build failed: {exc}")
    finally:
        log.close()


def _attempt(
    spec: ResolvedSpec, spec_hash: str, folder: Path, log: BuildLog, *, scope: str, wheels_only: bool, timeout: float
) -> int:
    """One try at building the virtualenv in `scope`; on success it is moved to `venv/`. The script's code."""
    box = _Sandbox(spec, folder, scope)
    temp = box.new_venv()
    try:
        script = _script(
            uv=str(uv_binary()),
            python=_python_request(spec.python),
            temp=temp,
            requirements=bool(spec.requirements),
            wheels_only=wheels_only,
        )
        code = _run(script, log=log, box=box, timeout=timeout)
        if code == 0:
            (folder / "requirements.lock").write_text("".join(f"{line}\n" for line in installed(temp)))
            target = venv_path(spec_hash)
            if target.exists():  # a venv from an earlier build whose row was reset: replace it
                shutil.rmtree(target)
            _move(temp, target)
        return code
    finally:
        shutil.rmtree(temp, ignore_errors=True)

"""The one way the studio starts other people's code: jobs, environment builds, and every later
server of user code.

A caller says what to run, what it may read, what it may write, where its network may lead and its
limits (a `Spec`); `start()` runs it and returns a `Sandboxed` process. On Linux with bubblewrap:

- an unprivileged uid (when the studio runs as root, the spec's; otherwise the studio's own user
  inside a user namespace), no capabilities, no new privileges;
- its own mount namespace holding only the system folders, the interpreter, the binds of the spec
  (read-only unless marked writable), a fresh /proc, /dev and /tmp: no data directory, database
  file, key file or other workspace;
- its own PID namespace: when the command's main process ends, the namespace ends, and every
  process it started with it (`setsid`, `nohup` and double forks included); `--die-with-parent`
  ends it with the process that started it;
- its own network namespace with nothing but loopback; the loopback ports that lead out are
  relayed by `relay.Relay` to the studio's web server and, through a proxy, to what the spec's
  `Network` allows; nothing else on the host (database, broker, other sandboxes) is reachable;
- memory, CPU and process limits in a cgroup where this host lets the studio make one.

Where bubblewrap can't run (macOS, a container without user namespaces) the backend is `none`:
commands run as plain processes with the same environment, and the studio says so (status()).
"""

import logging
import os
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from .cgroups import Cgroup
from .relay import Destinations, Relay

logger = logging.getLogger(__name__)

INSIDE_SCRIPT = Path(__file__).with_name("inside.py")
BWRAP = shutil.which("bwrap") or "bwrap"
SETPRIV = shutil.which("setpriv")  # util-linux; without it a sandbox outlives a killed node until reaped
SANDBOX_USER = "azureuser"
SANDBOX_HOME = f"/home/{SANDBOX_USER}"
RUN_FOLDER = "/run/studio"
INIT_PATH = "/.studio/sandbox-init.py"
PROXY_PORTS = (3128, 3129)
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
# What of /etc a program may need; the rest (the host's own configuration) stays out.
ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "debian_version",
    "fonts",
    "gai.conf",
    "host.conf",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "pki",
    "profile",
    "protocols",
    "services",
    "ssl",
    "terminfo",
    "timezone",
)
KILL_GRACE_SECONDS = 5
SHM_SIZE = 2 * 1024**3


class Network(StrEnum):
    NONE = "none"  # loopback only
    STUDIO = "studio"  # the studio's own web server (tracking URI, API)
    INTERNET = "internet"  # the studio's web server and public addresses


@dataclass(frozen=True)
class Bind:
    """A host path the code may see, at the same path, read-only unless `writable`."""

    source: Path
    writable: bool = False


@dataclass(frozen=True)
class Limits:
    memory_bytes: int | None = None
    cpus: float | None = None
    processes: int | None = 4096
    open_files: int = 65536


@dataclass
class Spec:
    """What to run (argv, in cwd, with env), what it may see (binds), reach (network) and use (limits)."""

    name: str  # names the run's folder and cgroup: letters, digits, '-', '_', '.'
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    binds: list[Bind] = field(default_factory=list)
    network: Network = Network.STUDIO
    limits: Limits = field(default_factory=Limits)
    uid: int | None = None  # the host uid to run as when the studio runs as root


@dataclass(frozen=True)
class Status:
    backend: str  # "bwrap" or "none"
    isolated: bool
    reason: str = ""

    def as_dict(self) -> dict:
        return {"backend": self.backend, "isolated": self.isolated, "reason": self.reason}


def _bwrap_works(bwrap: str) -> str:
    """'' if bubblewrap can make the namespaces the sandbox needs here, else why not."""
    args = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
    if os.geteuid() != 0:
        args.append("--unshare-user")
    try:
        result = subprocess.run([*args, "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start: {exc}"
    if result.returncode != 0:
        return f"bubblewrap can't create namespaces here: {result.stderr.strip()[:300]}"
    return ""


@lru_cache(maxsize=1)
def _probe(choice: str) -> Status:
    if choice == "none":
        return Status("none", False, "STUDIO_SANDBOX=none: user code runs without a sandbox.")
    if not sys.platform.startswith("linux"):
        reason = f"No sandbox on {sys.platform}: user code runs as plain processes of the studio's user."
    elif not (bwrap := shutil.which("bwrap")):
        reason = (
            "bubblewrap is not installed: user code runs as plain processes of the studio's user. "
            "Install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)."
        )
    else:
        reason = _bwrap_works(bwrap)
        if not reason:
            return Status("bwrap", True)
    if choice == "bwrap":
        raise RuntimeError(f"STUDIO_SANDBOX=bwrap, but {reason}")
    return Status("none", False, reason)


def status() -> Status:
    """Which sandbox user code runs in on this host (STUDIO_SANDBOX: auto, bwrap or none)."""
    return _probe(settings.STUDIO_SANDBOX)


def describe() -> dict:
    """status() as a dict, for pages and /healthz; never raises (a host that insists on bubblewrap
    without having it says so here)."""
    try:
        return status().as_dict()
    except RuntimeError as exc:
        return {"backend": "bwrap", "isolated": False, "reason": str(exc)}


def single_user_refusal() -> str:
    """Why a second user or workspace member is refused on this host ('' when it is not): without
    a sandbox, one person's job could read everyone's data, so the studio stays single-user unless
    an administrator accepts that (STUDIO_ALLOW_UNSANDBOXED=true)."""
    state = status()
    if state.isolated or settings.STUDIO_ALLOW_UNSANDBOXED:
        return ""
    return (
        f"This studio runs user code without a sandbox ({state.reason}), so it serves one person only: "
        "install bubblewrap, or set STUDIO_ALLOW_UNSANDBOXED=true to accept that every user's jobs "
        "can read every workspace's data."
    )


def uid_for(workspace_id: int) -> int:
    """The host uid a workspace's code runs as when the studio runs as root."""
    return settings.STUDIO_SANDBOX_UID_BASE + workspace_id


BUILDER_UID_OFFSET = 0  # environment builds: uid_for(0), a uid no workspace has


def chown_tree(path: Path, uid: int) -> None:
    """Give a folder and everything in it to `uid` (links themselves, never their targets)."""
    os.chown(path, uid, uid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def python_binds(python: Path) -> list[Bind]:
    """Read-only binds for an interpreter: a virtualenv and the Python its `pyvenv.cfg` names, or
    the installation a plain interpreter lives in."""
    python = Path(python)
    venv = python.parent.parent
    cfg = venv / "pyvenv.cfg"
    binds = []
    if cfg.exists():
        binds.append(Bind(venv))
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                binds.append(Bind(Path(value.strip()).resolve().parent))
    else:
        binds.append(Bind(Path(os.path.realpath(python)).parent.parent))
    return binds


# -- the studio's address as user code sees it -----------------------------------------------------


@dataclass(frozen=True)
class _StudioAddress:
    host: str  # as the tracking URI names it
    port: int
    connect: tuple[str, int]  # where this host reaches it

    @classmethod
    def from_settings(cls) -> "_StudioAddress":
        url = urlsplit(settings.STUDIO_PUBLIC_URL)
        port = url.port or (443 if url.scheme == "https" else 80)
        host = (url.hostname or "127.0.0.1").lower()
        internal = urlsplit(settings.STUDIO_INTERNAL_URL or settings.STUDIO_PUBLIC_URL)
        connect = (internal.hostname or "127.0.0.1", internal.port or (443 if internal.scheme == "https" else 80))
        return cls(host=host, port=port, connect=connect)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# -- starting ------------------------------------------------------------------------------------------


class Sandboxed:
    """A started sandbox: a Popen with the clean-up of its relay, cgroup and run folder."""

    def __init__(self, process: subprocess.Popen, *, status_read: int | None, relay, cgroup, folder: Path | None):
        self.process = process
        self.pid = process.pid
        self.stdout = process.stdout
        self._status_read = status_read
        self._relay = relay
        self._cgroup = cgroup
        self._folder = folder
        self._outcome: str | None = None
        self._oom: bool | None = None
        self.returncode: int | None = None
        self.limits_applied = cgroup.applied if cgroup else []

    def _settle(self, code: int) -> int:
        """Popen's convention: the command's exit code, or -N when a signal N ended it."""
        if self._status_read is not None and self._outcome is None:
            try:
                self._outcome = os.read(self._status_read, 64).decode()
            except OSError:
                self._outcome = ""
            os.close(self._status_read)
            self._status_read = None
        if self._oom is None:
            self._oom = bool(self._cgroup and self._cgroup.out_of_memory())
        outcome = self._outcome or ""
        if outcome.startswith("signal "):
            self.returncode = -int(outcome.split()[1])
        elif outcome.startswith("exit "):
            self.returncode = int(outcome.split()[1])
        else:
            self.returncode = code  # the sandbox itself ended (killed from outside): Popen's own code
        return self.returncode

    def poll(self) -> int | None:
        code = self.process.poll()
        return None if code is None else self._settle(code)

    def wait(self, timeout: float | None = None) -> int:
        return self._settle(self.process.wait(timeout))

    @property
    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the sandbox for going over its memory limit."""
        if self._oom is not None:
            return self._oom
        return bool(self._cgroup and self._cgroup.out_of_memory())

    def _first_process(self) -> int | None:
        """The host pid of the sandbox's first process (inside.py): bubblewrap's grandchild."""
        if self._folder is None:
            return None  # no sandbox: the command itself leads its process group
        processes = _parents()
        inner = [pid for pid, parent in processes.items() if parent == self.pid]
        first = [pid for pid, parent in processes.items() if parent in inner]
        return first[0] if first else None

    def kill(self, *, grace: float = KILL_GRACE_SECONDS) -> None:
        """SIGTERM every process of the command at once, then, after `grace` seconds or as soon as
        they are gone, end the sandbox and everything still in it.

        In a sandbox the SIGTERM goes to its first process, which passes it on to every process of
        the sandbox in one kill(-1) (a command's children learn of it together, not one by one,
        and `setsid` ones too); bubblewrap itself gets none, as it would end the namespace at once."""
        if grace > 0 and self.process.poll() is None:
            first = self._first_process()
            try:
                if first is not None:
                    os.kill(first, signal.SIGTERM)
                else:
                    os.killpg(self.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self.process.poll() is None:
                time.sleep(0.05)
        kill_process_group(self.pid, grace=0)
        if self._cgroup:
            self._cgroup.kill()

    def close(self) -> None:
        """After the process has ended: stop the relay, remove the cgroup and the run folder."""
        if self.process.poll() is None:
            self.kill(grace=0)
            self.process.wait()
        if self._relay:
            self._relay.close()
        if self._cgroup:
            self._cgroup.remove()
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process on the host."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return parents


def kill_process_group(pgid: int, *, grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after `grace` seconds. A sandbox's group
    leader is bubblewrap: once it is gone, its PID namespace and everything in it is gone too."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _launcher(cgroup: Cgroup | None, limits: Limits, *, nproc: bool) -> list[str]:
    """The command that starts a sandbox: a shell that joins its cgroup and sets its limits, then
    `setpriv` making it die with the process that started it, then the sandbox itself.

    A `preexec_fn` would do the same from Python, but it makes every start fork the whole calling
    process (15 ms for a node's 200 MB) instead of vfork-ing it.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = limits.open_files if hard == resource.RLIM_INFINITY else min(limits.open_files, hard)
    steps = [
        f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))} 2>/dev/null"
        for folder in (cgroup.folders if cgroup else [])
    ]
    steps += [f"ulimit -n {files}", "ulimit -c 0"]
    if nproc and limits.processes:
        steps.append(f"ulimit -p {limits.processes}")
    steps.append('exec "$@"')
    die_with_parent = [SETPRIV, "--pdeathsig", "KILL", "--"] if SETPRIV else []
    return ["/bin/sh", "-c", "; ".join(steps), "sandbox", *die_with_parent]


def _run_folder(name: str) -> Path:
    folder = Path(settings.STUDIO_DATA_DIR) / "sandboxes" / f"{name}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True, mode=0o711)
    return folder


def _owned_folder(path: Path, uid: int | None) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class _Args:
    """bubblewrap's command line, making every folder a bind passes through readable (0755)."""

    def __init__(self):
        self.args: list[str] = []
        self.made: set[str] = {"/"}

    def _parents(self, target: str) -> None:
        for folder in _ancestors(target):
            if folder not in self.made:
                self.args += ["--perms", "0755", "--dir", folder]
                self.made.add(folder)

    def bind(self, source: Path | str, target: str, *, writable: bool = False) -> None:
        self._parents(target)
        self.args += ["--bind" if writable else "--ro-bind", str(source), target]
        self.made.add(target)

    def add(self, *args: str) -> None:
        self.args += list(args)


def _system_binds(args: _Args) -> None:
    for folder in SYSTEM_FOLDERS:
        path = Path(folder)
        if path.is_symlink():
            args.add("--symlink", os.readlink(path), folder)
            args.made.add(folder)
        elif path.is_dir():
            args.bind(path, folder)
    for entry in ETC_ENTRIES:
        path = Path("/etc") / entry
        if path.exists():
            args.bind(path, str(path))
    cpu = Path("/sys/devices/system/cpu")
    if cpu.is_dir():
        args.bind(cpu, str(cpu))


def _sandbox_env(spec: Spec, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": SANDBOX_HOME,
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "TMPDIR": "/tmp",
    }
    env.update(spec.env)
    env.update(extra)
    return env


def _network_setup(spec: Spec, args: _Args, folder: Path, uid: int | None, etc: Path):
    """Relay, inside listeners, proxy variables and /etc/hosts for the spec's network."""
    hosts = [f"127.0.0.1\tlocalhost {spec.name[:60]}", "::1\tlocalhost ip6-localhost"]
    if spec.network == Network.NONE:
        _write(etc / "hosts", "\n".join(hosts) + "\n")
        args.bind(etc / "hosts", "/etc/hosts")
        return None, [], {}
    studio = _StudioAddress.from_settings()
    loopback = studio.host in ("localhost", "127.0.0.1", "::1")
    # The studio's port is relayed as it is on loopback (a name pointing there), so any client
    # reaches the tracking URI; a port below 1024 needs root to listen on, a public IP can't be
    # given to loopback: those go through the proxy instead.
    raw = (os.geteuid() == 0 or studio.port >= 1024) and (loopback or not _is_ip(studio.host))
    names = {(studio.host, studio.port)}
    if loopback:
        names |= {("localhost", studio.port), ("127.0.0.1", studio.port), ("::1", studio.port)}
    destinations = Destinations(
        studio=studio.connect,
        studio_names=frozenset(names),
        internet=spec.network == Network.INTERNET,
        allowed_hosts=frozenset(h.lower() for h in settings.STUDIO_SANDBOX_ALLOWED_HOSTS),
    )
    run = _owned_folder(folder / "run", uid)
    relay = Relay(run, destinations, owner=uid).start()
    args.bind(run, RUN_FOLDER)
    listen = []
    if raw:
        api = f"{RUN_FOLDER}/api.sock"
        listen += [["127.0.0.1", studio.port, api], ["::1", studio.port, api]]
        if not loopback:
            hosts.append(f"127.0.0.1\t{studio.host}")
    proxy_port = next(p for p in PROXY_PORTS if p != studio.port)
    listen.append(["127.0.0.1", proxy_port, f"{RUN_FOLDER}/proxy.sock"])
    proxy = f"http://127.0.0.1:{proxy_port}"
    no_proxy = "localhost,127.0.0.1,::1" + (f",{studio.host}" if raw else "")
    env = {
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }
    _write(etc / "hosts", "\n".join(hosts) + "\n")
    args.bind(etc / "hosts", "/etc/hosts")
    return relay, listen, env


def start(spec: Spec, *, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) -> Sandboxed:
    """Start `spec` in the host's sandbox (status()); the caller reads `stdout` and waits."""
    backend = status()
    cgroup = Cgroup.create(spec.name, spec.limits)
    if backend.backend == "none":
        env = _sandbox_env(
            spec, {"HOME": spec.env.get("HOME") or str(spec.cwd), "TMPDIR": spec.env.get("TMPDIR", "/tmp")}
        )
        process = subprocess.Popen(
            [*_launcher(cgroup, spec.limits, nproc=False), *spec.argv],
            cwd=spec.cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return Sandboxed(process, status_read=None, relay=None, cgroup=cgroup, folder=None)

    root = os.geteuid() == 0
    uid = spec.uid if root and spec.uid is not None else None
    folder = _run_folder(spec.name)
    args = _Args()
    relay = None
    try:
        args.add(
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            spec.name[:60],
        )
        if root:
            args.add("--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")
            args.add("--cap-add", "CAP_NET_BIND_SERVICE")
        else:
            args.add("--unshare-user", "--disable-userns")
        shm = min(spec.limits.memory_bytes or SHM_SIZE, SHM_SIZE)  # Azure ML's default shm_size
        args.add("--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(shm), "--tmpfs", "/dev/shm")
        args.made |= {"/proc", "/dev", "/dev/shm"}
        _system_binds(args)
        etc = folder / "etc"
        shown_uid = uid if uid is not None else os.geteuid()
        _write(
            etc / "passwd",
            f"root:x:0:0:root:/root:/bin/sh\n{SANDBOX_USER}:x:{shown_uid}:{shown_uid}::{SANDBOX_HOME}:/bin/bash\n",
        )
        _write(etc / "group", f"root:x:0:\n{SANDBOX_USER}:x:{shown_uid}:\n")
        _write(etc / "resolv.conf", "")
        for name in ("passwd", "group", "resolv.conf"):
            args.bind(etc / name, f"/etc/{name}")
        args.bind(_owned_folder(folder / "tmp", uid), "/tmp", writable=True)
        args.bind(_owned_folder(folder / "home", uid), SANDBOX_HOME, writable=True)
        interpreter = Path(os.path.realpath(sys.executable))
        args.bind(Path(sys.base_prefix).resolve(), str(Path(sys.base_prefix).resolve()))
        for bind in sorted(spec.binds, key=lambda b: len(Path(b.source).parts)):
            source = Path(bind.source)
            args.bind(source, str(source), writable=bind.writable)
        args.bind(INSIDE_SCRIPT, INIT_PATH)
        relay, listen, network_env = _network_setup(spec, args, folder, uid, etc)
        status_read, status_write = os.pipe()
        inside = [str(interpreter), "-I", "-S", INIT_PATH, "--status-fd", str(status_write), "--cwd", str(spec.cwd)]
        if uid is not None:
            inside += ["--uid", str(uid), "--gid", str(uid)]
        for host, port, path in listen:
            inside += ["--listen", host, str(port), path]
        argv = [
            *_launcher(cgroup, spec.limits, nproc=uid is not None),
            BWRAP,
            *args.args,
            *inside,
            "--",
            *spec.argv,
        ]
        try:
            process = subprocess.Popen(
                argv,
                env=_sandbox_env(spec, network_env),
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                pass_fds=(status_write,),
                start_new_session=True,
            )
        finally:
            os.close(status_write)
    except BaseException:
        if relay:
            relay.close()
        if cgroup:
            cgroup.remove()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Sandboxed(process, status_read=status_read, relay=relay, cgroup=cgroup, folder=folder)

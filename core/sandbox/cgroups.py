"""A control group per sandbox, where this host lets the studio make one: memory, CPU and process
limits, out-of-memory reports, and a kill that reaches every process of the sandbox.

Both hierarchies are handled: cgroup v2 (one tree, controllers enabled by the parent) and v1 (a
tree per controller). A group is made below the studio's own, so a supervisor's limits still hold.
Where no group can be made (no permission, no controller), the sandbox runs without these limits
and `applied` says which ones hold.
"""

import os
import re
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


def _own_paths() -> dict[str, str]:
    """controller ('' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    paths = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    except OSError:
        pass
    return paths


def _mounts() -> dict[str, Path]:
    """controller ('' for v2) -> where its hierarchy is mounted."""
    mounts = {}
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split(" - ")
            if len(fields) != 2:
                continue
            mount_point = fields[0].split()[4]
            fstype, _, options = fields[1].split()[:3]
            if fstype == "cgroup2":
                mounts.setdefault("", Path(mount_point))
            elif fstype == "cgroup":
                for option in options.split(","):
                    if option in ("memory", "pids", "cpu"):
                        mounts[option] = Path(mount_point)
    except OSError:
        pass
    return mounts


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


class Cgroup:
    def __init__(self, folders: list[Path], applied: list[str], version: int):
        self.folders = folders
        self.applied = applied
        self.version = version

    @classmethod
    def create(cls, name: str, limits) -> "Cgroup | None":
        name = "studio-" + re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:80] + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        mounts, own = _mounts(), _own_paths()
        if "" in mounts and "" in own and (mounts[""] / "cgroup.controllers").exists():
            group = cls._create_v2(mounts[""] / own[""].lstrip("/"), name, limits)
            if group:
                return group
        return cls._create_v1(mounts, own, name, limits)

    @classmethod
    def _create_v2(cls, parent: Path, name: str, limits) -> "Cgroup | None":
        enabled = set((parent / "cgroup.subtree_control").read_text().split()) if parent.exists() else set()
        if not {"memory", "pids"} & enabled:
            return None
        folder = parent / name
        try:
            folder.mkdir()
        except OSError:
            return None
        applied = []
        if limits.memory_bytes and "memory" in enabled and _write(folder / "memory.max", str(limits.memory_bytes)):
            _write(folder / "memory.swap.max", "0")
            applied.append("memory")
        if limits.processes and "pids" in enabled and _write(folder / "pids.max", str(limits.processes)):
            applied.append("processes")
        if limits.cpus and "cpu" in enabled:
            if _write(folder / "cpu.max", f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}"):
                applied.append("cpu")
        return cls([folder], applied, 2)

    @classmethod
    def _create_v1(cls, mounts: dict, own: dict, name: str, limits) -> "Cgroup | None":
        folders, applied = [], []
        wanted = {
            "memory": [("memory.limit_in_bytes", limits.memory_bytes)],
            "pids": [("pids.max", limits.processes)],
            "cpu": [
                ("cpu.cfs_period_us", CPU_PERIOD_US),
                ("cpu.cfs_quota_us", int(limits.cpus * CPU_PERIOD_US) if limits.cpus else None),
            ],
        }
        for controller, files in wanted.items():
            if controller not in mounts or controller not in own or all(v is None for _, v in files):
                continue
            folder = mounts[controller] / own[controller].lstrip("/") / name
            try:
                folder.mkdir()
            except OSError:
                continue
            folders.append(folder)
            if all(value is None or _write(folder / file, str(value)) for file, value in files):
                applied.append({"memory": "memory", "pids": "processes", "cpu": "cpu"}[controller])
        return cls(folders, applied, 1) if folders else None

    def enter(self) -> None:
        """Move the calling process (a child between fork and exec) into the group."""
        pid = str(os.getpid())
        for folder in self.folders:
            _write(folder / "cgroup.procs", pid)

    def pids(self) -> set[int]:
        found = set()
        for folder in self.folders:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                continue
        return found

    def kill(self) -> None:
        """SIGKILL every process still in the group."""
        for folder in self.folders:
            if self.version == 2 and _write(folder / "cgroup.kill", "1"):
                continue
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.02)

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the group for going over its memory limit."""
        for folder in self.folders:
            for file in ("memory.events", "memory.oom_control"):
                try:
                    text = (folder / file).read_text()
                except OSError:
                    continue
                match = re.search(r"^oom_kill (\d+)", text, re.M)
                if match and int(match[1]) > 0:
                    return True
        return False

    def remove(self) -> None:
        self.kill()
        for folder in self.folders:
            for _ in range(20):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)

"""Running one command job on a node: the job's process in its own process group, its output
streamed to the log, heartbeats, cancel and timeout, then outputs uploaded.

Everything the runner decides is written to the database first: a node that dies mid-job leaves a
job whose heartbeat stops, and the reaper (jobs.tasks.reap_lost_jobs) ends it.
"""

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from workspaces.models import Datastore
from workspaces.paths import join
from workspaces.storage import datastore_storage, is_folder, walk_files

from . import services
from .joblog import JobLogWriter
from .models import Job, JobStatus
from .spec import render_command

logger = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
KILL_GRACE_SECONDS = 5


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def kill_process_group(pgid: int, *, grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after `grace` seconds."""
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
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _copy_tree_from_storage(datastore: Datastore, prefix: str, target: Path) -> None:
    storage = datastore_storage(datastore)
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(storage, FileSystemStorage):
        source = Path(storage.path(prefix)) if prefix else Path(storage.location)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target / source.name)
        return
    if not is_folder(storage, prefix):
        with storage.open(prefix, "rb") as src, open(target / prefix.rsplit("/", 1)[-1], "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        return
    for file_path in walk_files(storage, prefix):
        local = target / file_path[len(prefix) :].lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        with storage.open(file_path, "rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)


def upload_tree(local: Path, datastore: Datastore, prefix: str) -> int:
    """Upload every file below `local` to `prefix` in the datastore; returns the file count."""
    storage = datastore_storage(datastore)
    count = 0
    for path in sorted(local.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                storage.save(join(prefix, path.relative_to(local).as_posix()), File(handle))
            count += 1
    return count


class JobRunner:
    def __init__(self, job: Job, *, node_name: str):
        self.job = job
        self.node_name = node_name
        self.root = Path(settings.STUDIO_DATA_DIR) / "nodes" / node_name.replace("@", "_") / job.name
        self.wd = self.root / "wd"
        self.artifacts = job.workspace.datastores.get(name="workspaceartifactstore")
        self.log: JobLogWriter | None = None
        self.proc: subprocess.Popen | None = None

    # -- preparing ---------------------------------------------------------------------------------

    def _input_values(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, value in self.job.spec.get("literal_inputs", {}).items():
            values[name] = "" if value is None else str(value)
        for name, binding in self.job.spec.get("data_inputs", {}).items():
            datastore = self.job.workspace.datastores.get(name=binding["datastore"])
            mode = binding.get("mode") or "ro_mount"
            storage = datastore_storage(datastore)
            if mode == "direct":
                values[name] = binding["uri"]
            elif mode in ("ro_mount", "eval_mount") and isinstance(storage, FileSystemStorage):
                values[name] = storage.path(binding["path"]) if binding["path"] else storage.location
            else:
                target = self.root / "inputs" / name
                _copy_tree_from_storage(datastore, binding["path"], target)
                values[name] = (
                    str(target / binding["path"].rsplit("/", 1)[-1]) if binding["type"] == "uri_file" else str(target)
                )
        return values

    def _output_paths(self) -> dict[str, str]:
        paths = {}
        for name in self.job.spec.get("outputs", {}):
            folder = self.root / "outputs" / name
            folder.mkdir(parents=True, exist_ok=True)
            paths[name] = str(folder)
        return paths

    def _environment(self, python: Path | None, token: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "USER")}
        path = os.environ.get("PATH", "/usr/bin:/bin")
        if python is not None:
            path = f"{python.parent}{os.pathsep}{path}"
        job = self.job
        tracking_uri = f"{settings.STUDIO_PUBLIC_URL.rstrip('/')}/mlflow/v1.0/workspaces/{job.workspace.name}"
        base.update(
            {
                "PATH": path,
                "PYTHONUNBUFFERED": "1",
                "MLFLOW_TRACKING_URI": tracking_uri,
                "MLFLOW_RUN_ID": job.name,
                "MLFLOW_EXPERIMENT_NAME": job.experiment.name,
                "MLFLOW_TRACKING_TOKEN": token,
                "AZUREML_RUN_ID": job.name,
                "AZUREML_ARM_WORKSPACE_NAME": job.workspace.name,
                "AZUREML_CR_NODE_NAME": self.node_name,
                "AZUREML_EXPERIMENT_NAME": job.experiment.name,
            }
        )
        if python is not None:
            base["VIRTUAL_ENV"] = str(python.parent.parent)
        base.update(job.spec.get("environment_variables", {}))
        return base

    def prepare(self) -> tuple[list[str], dict[str, str]]:
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.wd.mkdir(parents=True)
        if self.job.code_path:
            _copy_tree_from_storage(self.artifacts, self.job.code_path, self.wd)
        (self.wd / "outputs").mkdir(exist_ok=True)
        (self.wd / "logs").mkdir(exist_ok=True)
        command = render_command(self.job.command, self._input_values(), self._output_paths())
        python = services.environment_python(self.job)
        token = services.job_token_create(job=self.job)
        return ["/bin/bash", "-c", command], self._environment(python, token)

    # -- running -----------------------------------------------------------------------------------

    def _pump(self, stream) -> None:
        while True:
            data = os.read(stream.fileno(), 65536)
            if not data:
                break
            self.log.write(data)

    def run(self) -> None:
        job = self.job
        self.root.mkdir(parents=True, exist_ok=True)
        system_log = self.root / "lifecycle.log"
        try:
            argv, env = self.prepare()
        except Exception as exc:  # noqa: BLE001 - any failure to prepare ends the job clearly
            services.job_finish(job_id=job.pk, status=JobStatus.FAILED, reason=f"Preparing the job failed: {exc}")
            return
        self.log = JobLogWriter(job.pk, self.root / "std_log.txt")
        self.proc = subprocess.Popen(
            argv,
            cwd=self.wd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # noqa: PLW1509
        pgid = self.proc.pid
        if not services.job_mark_running(job_id=job.pk, pgid=pgid, hostname=socket.gethostname()):
            kill_process_group(pgid, grace=0)  # canceled while we were preparing
            self.proc.wait()
            self.log.close()
            services.job_finish(job_id=job.pk, status=JobStatus.CANCELED, reason="Canceled before it started.")
            return
        pump = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        pump.start()
        outcome = self._supervise(pgid)
        # The job ends with its main process: stop what it left behind (a background child still
        # holding the output pipe would otherwise keep the log reader waiting).
        kill_process_group(pgid, grace=0)
        pump.join(timeout=10)
        self.log.close()
        self._finalize(outcome, system_log)

    def _supervise(self, pgid: int) -> tuple[str, str]:
        job = self.job
        started = time.monotonic()
        last_beat = 0.0
        last_logs_sync = time.monotonic()
        while True:
            code = self.proc.poll()
            self.log.maybe_flush()
            now = time.monotonic()
            if code is not None:
                if code == 0:
                    return JobStatus.COMPLETED, ""
                if code < 0:
                    name = signal.Signals(-code).name
                    return JobStatus.FAILED, f"The job's process was killed by {name} (signal {-code})."
                return JobStatus.FAILED, f"The command exited with code {code}. See user_logs/std_log.txt."
            if now - last_beat >= 1.0:
                last_beat = now
                status = services.job_heartbeat(job_id=job.pk)
                if status == JobStatus.CANCEL_REQUESTED:
                    self.log.system("Cancel requested: stopping the job's processes.")
                    kill_process_group(pgid)
                    self.proc.wait()
                    return JobStatus.CANCELED, "Canceled by a user."
                if status is None:  # the job was ended elsewhere (reaped): stop
                    kill_process_group(pgid)
                    self.proc.wait()
                    return "", ""
            if job.timeout and now - started > job.timeout:
                self.log.system(f"The job exceeded its limits.timeout of {job.timeout} s: stopping it.")
                kill_process_group(pgid)
                self.proc.wait()
                return JobStatus.CANCELED, f"The job exceeded its limits.timeout of {job.timeout} seconds."
            if now - last_logs_sync >= 5:
                last_logs_sync = now
                self._sync_logs_folder()
            time.sleep(0.05)

    def _sync_logs_folder(self) -> None:
        try:
            upload_tree(self.wd / "logs", self.artifacts, join(self.job.artifact_prefix, "logs"))
        except Exception:  # noqa: BLE001 - live sync is best effort; the final upload reports errors
            logger.warning("Syncing ./logs of %s failed", self.job.name, exc_info=True)

    def _finalize(self, outcome: tuple[str, str], system_log: Path) -> None:
        status, reason = outcome
        job = self.job
        if not status:
            return
        # Nothing may be left of the job's process group.
        kill_process_group(self.proc.pid, grace=0)
        services.job_set_finalizing(job_id=job.pk)
        try:
            prefix = job.artifact_prefix
            storage = datastore_storage(self.artifacts)
            with open(self.root / "std_log.txt", "rb") as handle:
                storage.save(join(prefix, "user_logs/std_log.txt"), File(handle))
            upload_tree(self.wd / "outputs", self.artifacts, join(prefix, "outputs"))
            upload_tree(self.wd / "logs", self.artifacts, join(prefix, "logs"))
            for name, binding in job.spec.get("outputs", {}).items():
                datastore = job.workspace.datastores.get(name=binding["datastore"])
                upload_tree(self.root / "outputs" / name, datastore, binding["path"])
            lifecycle = (
                "\n".join(f"{e.at.isoformat()} {e.status} {e.message}".rstrip() for e in job.events.all()) + "\n"
            )
            system_log.write_text(lifecycle)
            with open(system_log, "rb") as handle:
                storage.save(join(prefix, "system_logs/lifecycle.log"), File(handle))
        except Exception as exc:  # noqa: BLE001
            status, reason = JobStatus.FAILED, f"Uploading the job's outputs failed: {exc}"
        services.job_finish(job_id=job.pk, status=status, reason=reason, exit_code=self.proc.returncode)
        shutil.rmtree(self.root, ignore_errors=True)

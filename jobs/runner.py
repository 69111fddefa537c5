"""Running one command job on a node: the job's command in the studio's sandbox (core.sandbox),
its output streamed to the log, heartbeats, cancel and timeout, then outputs uploaded.

What the job sees: its working copy of the code snapshot (writable), its inputs (read-only unless
downloaded), its outputs and logs (writable), its environment (read-only) and the studio's API
with a token scoped to the job. Nothing else of this host.

Everything the runner decides is written to the database first: a node that dies mid-job leaves a
job whose heartbeat stops, and the reaper (jobs.tasks.reap_lost_jobs) ends it.
"""

import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from compute.sizes import size_named
from core import sandbox
from workspaces.models import Datastore
from workspaces.paths import join
from workspaces.storage import datastore_storage, is_folder, walk_files

from . import services
from .joblog import JobLogWriter
from .models import Job, JobStatus
from .snapshots import folder_digest
from .spec import render_command

logger = logging.getLogger(__name__)
kill_process_group = sandbox.kill_process_group


class SnapshotChanged(Exception):
    """The code snapshot is not the one recorded at submission."""


def _copy_tree_from_storage(datastore: Datastore, prefix: str, target: Path) -> None:
    """Copy a file or folder out of a datastore through its storage, which leaves out whatever a
    symbolic link in a local folder leads to outside it."""
    storage = datastore_storage(datastore)
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(storage, FileSystemStorage) and not storage.exists(prefix):
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
        self.proc: sandbox.Sandboxed | None = None
        self.binds: list[sandbox.Bind] = []

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
                # The datastore's own files, seen read-only: a write fails with EROFS, as on Azure.
                path = storage.path(binding["path"]) if binding["path"] else storage.location
                self.binds.append(sandbox.Bind(Path(path)))
                values[name] = path
            else:
                target = self.root / "inputs" / name
                _copy_tree_from_storage(datastore, binding["path"], target)
                # A downloaded copy is the job's own (writable), a mount of a remote store is not.
                self.binds.append(sandbox.Bind(target, writable=mode in ("download",)))
                values[name] = (
                    str(target / binding["path"].rsplit("/", 1)[-1]) if binding["type"] == "uri_file" else str(target)
                )
        return values

    def _output_paths(self) -> dict[str, str]:
        paths = {}
        for name in self.job.spec.get("outputs", {}):
            folder = self.root / "outputs" / name
            folder.mkdir(parents=True, exist_ok=True)
            self.binds.append(sandbox.Bind(folder, writable=True))
            paths[name] = str(folder)
        return paths

    def _environment(self, python: Path | None, token: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
        path = "/usr/local/bin:/usr/bin:/bin"
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

    def _limits(self) -> sandbox.Limits:
        size = size_named(self.job.compute.size) if self.job.compute else None
        if size is None:
            return sandbox.Limits()
        return sandbox.Limits(memory_bytes=size.memory_bytes, cpus=size.cores)

    def prepare(self) -> sandbox.Spec:
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.wd.mkdir(parents=True)
        if self.job.code_path:
            _copy_tree_from_storage(self.artifacts, self.job.code_path, self.wd)
            expected = self.job.code_digest
            if expected and folder_digest(self.wd) != expected:
                raise SnapshotChanged(
                    f"The code snapshot {self.job.code_path} changed after the job was submitted "
                    f"(its digest is not {expected[:16]}…, the one recorded at submission): it was not run."
                )
        (self.wd / "outputs").mkdir(exist_ok=True)
        (self.wd / "logs").mkdir(exist_ok=True)
        self.binds = [sandbox.Bind(self.wd, writable=True)]
        command = render_command(self.job.command, self._input_values(), self._output_paths())
        python = services.environment_python(self.job)
        if python is not None:
            self.binds += sandbox.python_binds(python)
        uid = sandbox.uid_for(self.job.workspace_id) if os.geteuid() == 0 else None
        if uid is not None and sandbox.status().isolated:
            sandbox.chown_tree(self.wd, uid)
            for bind in self.binds:
                if bind.writable and bind.source != self.wd:
                    sandbox.chown_tree(bind.source, uid)
        token = services.job_token_create(job=self.job)
        network = sandbox.Network.INTERNET if settings.STUDIO_SANDBOX_INTERNET else sandbox.Network.STUDIO
        return sandbox.Spec(
            name=self.job.name[:60],
            argv=["/bin/bash", "-c", command],
            cwd=self.wd,
            env=self._environment(python, token),
            binds=self.binds,
            network=network,
            limits=self._limits(),
            uid=uid,
        )

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
            spec = self.prepare()
            self.log = JobLogWriter(job.pk, self.root / "std_log.txt")
            self.proc = sandbox.start(spec)
        except Exception as exc:  # noqa: BLE001 - any failure to prepare ends the job clearly
            if self.log:
                self.log.close()
            services.job_finish(job_id=job.pk, status=JobStatus.FAILED, reason=f"Preparing the job failed: {exc}")
            shutil.rmtree(self.root, ignore_errors=True)
            return
        pgid = self.proc.pid
        if not services.job_mark_running(job_id=job.pk, pgid=pgid, hostname=socket.gethostname()):
            self.proc.kill(grace=0)  # canceled while we were preparing
            self.proc.wait()
            self.proc.close()
            self.log.close()
            services.job_finish(job_id=job.pk, status=JobStatus.CANCELED, reason="Canceled before it started.")
            return
        pump = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        pump.start()
        try:
            outcome = self._supervise()
        finally:
            # The job ends with its main process: its sandbox and everything left in it goes too.
            self.proc.close()
        pump.join(timeout=10)
        self.log.close()
        self._finalize(outcome, system_log)

    def _stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def _exit_reason(self, code: int) -> tuple[str, str]:
        if code == 0:
            return JobStatus.COMPLETED, ""
        if self.proc.out_of_memory:
            size = self.job.compute.size if self.job.compute else ""
            return JobStatus.FAILED, (
                f"The job ran out of memory: it used more than the {size} node's memory and was stopped."
            )
        if code < 0:
            import signal

            name = signal.Signals(-code).name
            return JobStatus.FAILED, f"The job's process was killed by {name} (signal {-code})."
        return JobStatus.FAILED, f"The command exited with code {code}. See user_logs/std_log.txt."

    def _supervise(self) -> tuple[str, str]:
        job = self.job
        started = time.monotonic()
        last_beat = 0.0
        last_logs_sync = time.monotonic()
        while True:
            code = self.proc.poll()
            self.log.maybe_flush()
            now = time.monotonic()
            if code is not None:
                return self._exit_reason(code)
            if now - last_beat >= 1.0:
                last_beat = now
                status = services.job_heartbeat(job_id=job.pk)
                if status == JobStatus.CANCEL_REQUESTED:
                    self.log.system("Cancel requested: stopping the job's processes.")
                    self._stop()
                    return JobStatus.CANCELED, "Canceled by a user."
                if status is None:  # the job was ended elsewhere (reaped): stop
                    self._stop()
                    return "", ""
            if job.timeout and now - started > job.timeout:
                self.log.system(f"The job exceeded its limits.timeout of {job.timeout} s: stopping it.")
                self._stop()
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

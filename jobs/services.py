"""Every write to jobs: submitting, the state machine, cancel.

States move only by conditional UPDATEs (`_transition`), so two processes that race (a node and the
reaper, a cancel and a finish, a duplicate delivery) cannot both win.
"""

import re
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from assets import references
from assets.mlmodels import services as model_services
from assets.models import BuildStatus, DataAsset, Environment, Model
from assets.yaml_errors import compose, line_of, node_at
from compute.models import ComputeCluster
from core.errors import AlreadyExists
from workspaces.downloads import zip_of_folders
from workspaces.models import Workspace
from workspaces.paths import clean_path, join, parse_datastore_uri
from workspaces.selectors import datastore_by_name, default_datastore
from workspaces.storage import datastore_storage

from . import archives
from .models import ACTIVE, TERMINAL, Experiment, Job, JobStatus, JobStatusEvent
from .names import generate_job_name
from .snapshots import storage_digest
from .spec import CommandJobSpec, _is_local, parse_command_job

RUN_JOB_TASK = "jobs.tasks.run_job"
# Page names under /workspaces/<ws>/jobs/ that a job name would hide.
RESERVED_JOB_NAMES = {"submit"}
MODEL_TYPES = {"mlflow_model", "custom_model", "triton_model"}
# Azure ML's rule for job and experiment names; they become paths and URL segments.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
NAME_RULE = "use letters, digits, '-' and '_', starting with a letter or digit (at most 255)."


# -- the state machine ----------------------------------------------------------------------------------


def _transition(job_id: int, *, to: str, allowed_from, message: str = "", **fields) -> bool:
    """Move the job to `to` if it is in one of `allowed_from`; record the event. True if it moved."""
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job_id, status__in=list(allowed_from)).update(status=to, **fields)
        if moved:
            JobStatusEvent.objects.create(job_id=job_id, status=to, message=message[:2000])
            if to in TERMINAL:
                Job.objects.filter(pk=job_id, ended_at__isnull=True).update(ended_at=now)
                _revoke_job_tokens(job_id)
    return bool(moved)


def job_claim(*, job_id: int, node) -> bool:
    """A node takes a Queued job; a duplicate delivery finds it taken and does nothing. The job is
    the one owner of the assignment: the node's job is the active job that names it, and the node's
    name stays on the job after the node is gone."""
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED, node__isnull=True).update(
            node=node, node_name=node.name if node else "", attempt=F("attempt") + 1, heartbeat_at=timezone.now()
        )
    )


def job_mark_running(*, job_id: int, pgid: int, hostname: str) -> bool:
    return _transition(
        job_id,
        to=JobStatus.RUNNING,
        allowed_from=[JobStatus.QUEUED],
        message=f"Running on {hostname}",
        pgid=pgid,
        hostname=hostname,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


def job_heartbeat(*, job_id: int) -> str | None:
    """Record that the node is alive; returns the job's status (None if it was ended elsewhere)."""
    Job.objects.filter(pk=job_id, status__in=ACTIVE).update(heartbeat_at=timezone.now())
    status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return None if status in TERMINAL else status


def job_set_finalizing(*, job_id: int) -> bool:
    return _transition(
        job_id,
        to=JobStatus.FINALIZING,
        allowed_from=[JobStatus.RUNNING, JobStatus.CANCEL_REQUESTED],
        message="Uploading outputs",
    )


def job_finish(*, job_id: int, status: str, reason: str = "", exit_code: int | None = None) -> bool:
    fields = {"status_reason": reason}
    if exit_code is not None:
        fields["exit_code"] = exit_code
    return _transition(job_id, to=status, allowed_from=ACTIVE, message=reason, **fields)


def job_cancel(*, job: Job) -> Job:
    """Cancel: a job not yet on a node ends at once; a running one is stopped by its node."""
    if job.is_terminal:
        raise ValidationError({"status": f"{job.name} has already ended ({job.status})."})
    if job.type == "run":
        # A run the MLflow client created has no node to stop it: it ends at once.
        _transition(job.pk, to=JobStatus.CANCELED, allowed_from=ACTIVE, message="Canceled by a user.")
        job.refresh_from_db()
        return job
    pre_run = [JobStatus.NOT_STARTED, JobStatus.STARTING, JobStatus.PREPARING]
    if not _transition(
        job.pk,
        to=JobStatus.CANCELED,
        allowed_from=pre_run,
        message="Canceled by a user.",
        status_reason="Canceled by a user.",
    ):
        if not Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED, node__isnull=True).exists() or not _transition(
            job.pk,
            to=JobStatus.CANCELED,
            allowed_from=[JobStatus.QUEUED],
            message="Canceled by a user.",
            status_reason="Canceled by a user.",
            node=None,
        ):
            _transition(
                job.pk,
                to=JobStatus.CANCEL_REQUESTED,
                allowed_from=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FINALIZING],
                message="Cancel requested by a user.",
            )
    job.refresh_from_db()
    return job


def job_archive(*, job: Job) -> Job:
    """Hidden from the Jobs list (unless archived jobs are asked for); everything else stays, as Azure ML."""
    Job.objects.filter(pk=job.pk).update(is_archived=True)
    job.is_archived = True
    return job


def job_restore(*, job: Job) -> Job:
    Job.objects.filter(pk=job.pk).update(is_archived=False)
    job.is_archived = False
    return job


def reap_lost_jobs(*, timeout_seconds: int | None = None) -> list[str]:
    """End jobs whose node stopped heartbeating; kill their process group if it is on this host."""
    import os
    import signal
    import socket

    timeout_seconds = timeout_seconds or settings.STUDIO_JOB_HEARTBEAT_TIMEOUT
    cutoff = timezone.now() - timedelta(seconds=timeout_seconds)
    reaped = []
    lost = Job.objects.filter(
        status__in=[JobStatus.RUNNING, JobStatus.FINALIZING, JobStatus.CANCEL_REQUESTED], heartbeat_at__lt=cutoff
    ).exclude(node__isnull=True, status=JobStatus.CANCEL_REQUESTED, pgid__isnull=True)
    for job in lost:
        canceled = job.status == JobStatus.CANCEL_REQUESTED
        reason = (
            "Canceled; its node stopped responding before it confirmed."
            if canceled
            else f"The node running this job stopped responding (no heartbeat for {timeout_seconds} s): "
            "its worker process was lost."
        )
        if _transition(
            job.pk,
            to=JobStatus.CANCELED if canceled else JobStatus.FAILED,
            allowed_from=[job.status],
            message=reason,
            status_reason=reason,
        ):
            reaped.append(job.name)
            if job.pgid and job.hostname == socket.gethostname():
                try:
                    os.killpg(job.pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
    return reaped


def job_node_process_lost(*, job_id: int, node_name: str, reason: str) -> bool:
    """The node's process running the job died (kill -9, out of memory): end the job now rather than
    when the reaper notices the missing heartbeats, stop what is left of its process group, free the node."""
    import os
    import signal
    import socket

    from compute.models import ComputeNode, NodeState

    job = Job.objects.filter(pk=job_id, node__name=node_name).values("status", "pgid", "hostname", "node_id").first()
    if job is None:
        return False
    if not Job.objects.filter(node_id=job["node_id"], status__in=ACTIVE).exclude(pk=job_id).exists():
        ComputeNode.objects.filter(pk=job["node_id"]).update(state=NodeState.IDLE, idle_since=timezone.now())
    if job["status"] in TERMINAL:  # the reaper was first
        return False
    if job["pgid"] and job["hostname"] == socket.gethostname():
        try:
            os.killpg(job["pgid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    canceled = job["status"] == JobStatus.CANCEL_REQUESTED
    return _transition(
        job_id,
        to=JobStatus.CANCELED if canceled else JobStatus.FAILED,
        allowed_from=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FINALIZING, JobStatus.CANCEL_REQUESTED],
        message=reason,
        status_reason=reason,
    )


# -- job tokens ----------------------------------------------------------------------------------------


def job_token_create(*, job: Job) -> str:
    """MLFLOW_TRACKING_TOKEN for the job: the submitter's rights in this workspace, while it runs."""
    from accounts.services import token_create

    token, raw = token_create(user=job.created_by, name=f"job {job.name}")
    token.workspace = job.workspace
    token.job_name = job.name
    token.save(update_fields=["workspace", "job_name"])
    return raw


def _revoke_job_tokens(job_id: int) -> None:
    from accounts.models import ApiToken

    job = Job.objects.filter(pk=job_id).values("workspace_id", "name").first()
    if job:
        ApiToken.objects.filter(workspace_id=job["workspace_id"], job_name=job["name"], revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )


# -- environments ----------------------------------------------------------------------------------------


def environment_python(job: Job) -> Path | None:
    """The interpreter of the job's built environment."""
    from assets.environments import envbuild

    build = job.environment.build if job.environment else None
    if build is None:
        return None
    return envbuild.python_path(build.spec_hash)


def _environment_ready(environment: Environment) -> str | None:
    """'ready', 'failed' or None (still building)."""
    build = environment.build
    if build is None:
        return None
    if build.status == BuildStatus.SUCCEEDED:
        return "ready"
    if build.status == BuildStatus.FAILED:
        return "failed"
    return None


ANONYMOUS_ENVIRONMENT = "CliV2AnonymousEnvironment"


def _resolve_environment(*, workspace: Workspace, user, value, conda_upload: str | None = None) -> Environment:
    """An asset reference, or an inline `image` (+ `conda_file`) as Azure ML's anonymous environments:
    one version per distinct spec, its version the spec's hash."""
    import hashlib

    import yaml

    from assets.environments import services as env_services

    if isinstance(value, str):
        return references.resolve(workspace=workspace, kind="environments", ref=value, field="environment")
    if not isinstance(value, dict) or not value.get("image"):
        raise ValidationError({"environment": "Give an environment reference (azureml:name:version) or an image."})
    image = str(value["image"])
    conda = value.get("conda_file")
    if isinstance(conda, dict):
        conda_text = yaml.safe_dump(conda, sort_keys=False)
    elif isinstance(conda, str) and conda.strip():
        if conda_upload is None:
            raise ValidationError(
                {
                    "environment.conda_file": f"{conda!r} is a local file: send its content as the "
                    "multipart part `conda_file`."
                }
            )
        conda_text = conda_upload
    else:
        conda_text = ""
    version = hashlib.sha256(f"{image}\n{conda_text}".encode()).hexdigest()[:30]
    existing = Environment.objects.filter(workspace=workspace, name=ANONYMOUS_ENVIRONMENT, version=version).first()
    if existing:
        return existing
    return env_services.environment_create(
        workspace=workspace,
        user=user,
        name=ANONYMOUS_ENVIRONMENT,
        version=version,
        image=image,
        conda_file=conda_text,
        tags={},
        description="Created for a job's inline environment.",
    )


def _ensure_building(environment: Environment) -> None:
    from assets.environments import services as env_services
    from assets.environments.packages import ResolvedSpec

    if environment.build is None:
        env_services.environment_build_start(environment=environment)
    elif environment.build.status == BuildStatus.NOT_STARTED:
        env_services.environment_build_for_spec(spec=ResolvedSpec.from_dict(environment.build.spec))


# -- submitting ------------------------------------------------------------------------------------------


def _resolve_data_input(*, workspace: Workspace, name: str, binding, uploads: dict) -> dict:
    path = binding.path
    field = f"inputs.{name}.path"
    mode = binding.mode or "ro_mount"
    if isinstance(path, str) and path.startswith("azureml://datastores/"):
        ds_name, ds_path = parse_datastore_uri(path, field=field)
        if datastore_by_name(workspace=workspace, name=ds_name) is None:
            raise ValidationError({field: f"No datastore named {ds_name!r} in {workspace.name}."})
        return {"type": binding.type, "mode": mode, "datastore": ds_name, "path": ds_path, "uri": path, "asset": ""}
    if isinstance(path, str) and path.startswith("azureml:"):
        kind = "models" if binding.type in MODEL_TYPES else "data"
        asset = references.resolve(workspace=workspace, kind=kind, ref=path, field=field)
        assert isinstance(asset, DataAsset | Model)
        return {
            "type": binding.type,
            "mode": mode,
            "datastore": asset.datastore.name,
            "path": asset.path,
            "uri": asset.datastore.uri(asset.path),
            "asset": asset.reference,
        }
    if _is_local(path):
        upload = uploads.get(name)
        if upload is None:
            raise ValidationError(
                {
                    field: f"{path!r} is a local path: send its file (or a zip of the folder) "
                    f"as the multipart part `inputs.{name}`."
                }
            )
        blobstore = default_datastore(workspace=workspace)
        prefix = f"LocalUpload/{uuid.uuid4().hex}"
        storage = datastore_storage(blobstore)
        base = clean_path(Path(path).name or name, field=field, allow_root=False)
        if binding.type == "uri_file":
            stored = storage.save(join(prefix, base), upload)
        else:
            archives.unpack(upload, storage=storage, prefix=join(prefix, base), field=f"inputs.{name}")
            stored = join(prefix, base)
        return {
            "type": binding.type,
            "mode": mode,
            "datastore": blobstore.name,
            "path": stored,
            "uri": blobstore.uri(stored),
            "asset": "",
        }
    raise ValidationError(
        {
            field: f"Unsupported path {path!r}: use azureml://datastores/..., an asset reference "
            "(azureml:name:version) or a local path."
        }
    )


def _resolve_outputs(*, workspace: Workspace, job_name: str, spec: CommandJobSpec) -> dict:
    outputs = {}
    for name, binding in spec.outputs.items():
        field = f"outputs.{name}.path"
        if binding.path:
            ds_name, ds_path = parse_datastore_uri(binding.path, field=field)
            if datastore_by_name(workspace=workspace, name=ds_name) is None:
                raise ValidationError({field: f"No datastore named {ds_name!r} in {workspace.name}."})
        else:
            ds_name, ds_path = "workspaceblobstore", f"azureml/{job_name}/{name}"
        outputs[name] = {
            "type": binding.type,
            "mode": binding.mode or "rw_mount",
            "datastore": ds_name,
            "path": ds_path,
            "uri": f"azureml://datastores/{ds_name}/paths/{ds_path}/",
        }
    return outputs


def job_submit(
    *,
    workspace: Workspace,
    user,
    yaml_text: str,
    code_archive=None,
    input_uploads: dict | None = None,
    conda_file: str | None = None,
    overrides: dict | None = None,
    component=None,
) -> Job:
    """Validate, resolve and store a command job; queue it on its cluster once its environment is built.
    `component` (an assets.models.Component) is the component the job runs, recorded with it.

    Nothing is created when anything in the spec is wrong; every error names the field and its line.
    """
    spec = parse_command_job(yaml_text)
    try:
        return _submit(
            spec=spec,
            workspace=workspace,
            user=user,
            yaml_text=yaml_text,
            code_archive=code_archive,
            input_uploads=input_uploads,
            conda_file=conda_file,
            overrides=overrides,
            component=component,
        )
    except ValidationError as exc:
        raise _with_lines(exc, yaml_text) from None


def _with_lines(exc: ValidationError, yaml_text: str) -> ValidationError:
    """Add the YAML line to each error about a field of the spec that does not name one yet."""
    if not hasattr(exc, "error_dict"):
        return exc
    node = compose(yaml_text)
    errors = {}
    for field, messages in exc.message_dict.items():
        path = field.split(".")
        known = node_at(node, path[:1])[1]  # a field left out of the YAML (a default) has no line
        errors[field] = [
            f"{m.rstrip('.')} (line {line_of(node, path)})." if known and "(line " not in m else m for m in messages
        ]
    return type(exc)(errors)


def _submit(
    *,
    spec: CommandJobSpec,
    workspace: Workspace,
    user,
    yaml_text: str,
    code_archive=None,
    input_uploads: dict | None = None,
    conda_file: str | None = None,
    overrides: dict | None = None,
    component=None,
) -> Job:
    for key, value in (overrides or {}).items():
        setattr(spec, key, value)
    input_uploads = input_uploads or {}
    errors = {}
    name = spec.name or generate_job_name()
    if spec.name:
        if not NAME_PATTERN.match(name):
            errors["name"] = f"{name[:100]!r}: {NAME_RULE}"
        elif name in RESERVED_JOB_NAMES:
            errors["name"] = f"{name!r} is reserved by the studio's pages; choose another name."
        elif Job.objects.filter(workspace=workspace, name=name).exists():
            raise AlreadyExists({"name": f"A job named {name!r} already exists in {workspace.name}."})
    if spec.experiment_name is not None and not NAME_PATTERN.match(str(spec.experiment_name)):
        errors["experiment_name"] = f"{str(spec.experiment_name)[:100]!r}: {NAME_RULE}"
    compute_name = spec.compute or "cpu-cluster"
    cluster = ComputeCluster.objects.filter(workspace=workspace, name=compute_name).first()
    if cluster is None:
        errors["compute"] = f"No compute named {compute_name!r} in {workspace.name}."
    if spec.code and code_archive is None:
        errors["code"] = f"The spec names code {spec.code!r}: send the folder as a .zip or .tar.gz in the part `code`."
    if errors:
        raise ValidationError(errors)
    environment = _resolve_environment(workspace=workspace, user=user, value=spec.environment, conda_upload=conda_file)

    # Files first (nothing in the database yet); a failure removes them again.
    artifacts = workspace.datastores.get(name="workspaceartifactstore")
    art_storage = datastore_storage(artifacts)
    code_path = f"ExperimentRun/dcid.{name}/code" if code_archive is not None else ""
    data_inputs = {}
    try:
        code_digest = ""
        if code_archive is not None:
            archives.unpack(code_archive, storage=art_storage, prefix=code_path, field="code")
            code_digest = storage_digest(art_storage, code_path)
        for input_name, binding in spec.data_inputs.items():
            data_inputs[input_name] = _resolve_data_input(
                workspace=workspace, name=input_name, binding=binding, uploads=input_uploads
            )
        outputs = _resolve_outputs(workspace=workspace, job_name=name, spec=spec)
        with transaction.atomic():
            experiment, _ = Experiment.objects.get_or_create(
                workspace=workspace, name=spec.experiment_name or _default_experiment(spec)
            )
            job = Job.objects.create(
                workspace=workspace,
                name=name,
                display_name=spec.display_name,
                experiment=experiment,
                description=spec.description,
                tags=spec.tags,
                yaml=yaml_text,
                command=spec.command,
                code_path=code_path,
                code_digest=code_digest,
                compute=cluster,
                environment=environment,
                timeout=spec.timeout,
                created_by=user,
                spec={
                    "literal_inputs": spec.literal_inputs,
                    "data_inputs": data_inputs,
                    "outputs": outputs,
                    "environment_variables": spec.environment_variables,
                    "compute": cluster.name,
                    "environment": environment.reference,
                    **({"component": f"{component.name}:{component.version}"} if component else {}),
                },
            )
            JobStatusEvent.objects.create(job=job, status=JobStatus.NOT_STARTED, message="Submitted")
    except BaseException:
        from workspaces.storage import delete_tree, path_exists

        if code_path and path_exists(art_storage, code_path):
            delete_tree(art_storage, code_path)
        for input_name, stored in data_inputs.items():  # local inputs uploaded before the failure
            if _is_local(spec.data_inputs[input_name].path):
                blob = datastore_storage(datastore_by_name(workspace=workspace, name=stored["datastore"]))
                delete_tree(blob, "/".join(stored["path"].split("/")[:2]))  # LocalUpload/<uuid>
        raise
    _transition(job.pk, to=JobStatus.STARTING, allowed_from=[JobStatus.NOT_STARTED], message="Code snapshot stored")
    _transition(
        job.pk,
        to=JobStatus.PREPARING,
        allowed_from=[JobStatus.STARTING],
        message=f"Environment {environment.reference}",
    )
    job_dispatch(job_id=job.pk)
    job.refresh_from_db()
    return job


def _default_experiment(spec: CommandJobSpec) -> str:
    if spec.code and spec.code not in (".", "./"):
        return Path(str(spec.code).rstrip("/")).name or "Default"
    return "Default"


def job_dispatch(*, job_id: int) -> None:
    """Preparing -> Queued once the environment is built (starting its build if needed), and send
    the job to its cluster's queue; a failed build fails the job."""
    job = Job.objects.select_related("environment__build", "compute__workspace").get(pk=job_id)
    if job.status != JobStatus.PREPARING:
        return
    state = _environment_ready(job.environment)
    if state is None:
        _ensure_building(job.environment)
        return
    if state == "failed":
        job_finish(
            job_id=job.pk,
            status=JobStatus.FAILED,
            reason=f"The environment {job.environment.reference} failed to build: {job.environment.build.error}",
        )
        return
    if _transition(
        job.pk,
        to=JobStatus.QUEUED,
        allowed_from=[JobStatus.PREPARING],
        message=f"Waiting for a node of {job.compute.name}",
    ):
        queue = job.compute.queue
        transaction.on_commit(lambda: _send_to_node(job.pk, queue))


def job_nudge(*, job: Job) -> None:
    """Send a Queued job's message again (a lost message; duplicates are harmless)."""
    _send_to_node(job.pk, job.compute.queue)


def _send_to_node(job_id: int, queue: str) -> None:
    """The message a node of the cluster takes the job by (jobs.tasks.run_job, sent by its name)."""
    current_app.send_task(RUN_JOB_TASK, args=[job_id], queue=queue)


# -- code for a new job: a component's, a job's snapshot, a folder staged after a failed submit ---------

CODE_ZIP_MEMORY = 16 * 1024 * 1024  # a larger code folder is zipped to disk
STAGED_CODE_MAX_AGE = timedelta(days=1)
_STAGE_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def component_code_archive(*, component) -> object | None:
    """A component's code snapshot as a zip of its contents (what job_submit takes), None without code."""
    if not component.code_path or component.datastore is None:
        return None
    storage = datastore_storage(component.datastore)
    return zip_of_folders(storage, component.code_path, compression=zipfile.ZIP_STORED, memory=CODE_ZIP_MEMORY)


def job_code_archive(*, job: Job) -> object | None:
    """A job's code snapshot as a zip of its contents, for a new job that runs the same code."""
    if not job.code_path:
        return None
    storage = datastore_storage(datastore_by_name(workspace=job.workspace, name="workspaceartifactstore"))
    return zip_of_folders(storage, job.code_path, compression=zipfile.ZIP_STORED, memory=CODE_ZIP_MEMORY)


def _staging() -> FileSystemStorage:
    """Code folders kept between two tries of the submit form, in the studio's data directory."""
    return FileSystemStorage(location=Path(settings.STUDIO_DATA_DIR) / "staged-code", file_permissions_mode=0o600)


def _staged_folder(workspace: Workspace, user) -> str:
    return f"{workspace.pk}/{user.pk}"


def code_stage(*, workspace: Workspace, user, archive) -> str:
    """Keep a code zip for the same person's next submit (a form that failed validation keeps its
    folder); returns its token. Their staged zips older than a day are removed on the way."""
    folder, staging = _staged_folder(workspace, user), _staging()
    try:
        _, names = staging.listdir(folder)
    except FileNotFoundError:
        names = []
    cutoff = timezone.now() - STAGED_CODE_MAX_AGE
    for old in names:
        if staging.get_modified_time(f"{folder}/{old}") < cutoff:
            staging.delete(f"{folder}/{old}")
    token = uuid.uuid4().hex
    archive.seek(0)
    staging.save(f"{folder}/{token}.zip", File(archive))
    archive.seek(0)
    return token


def code_staged(*, workspace: Workspace, user, token: str):
    """The zip `code_stage` kept for this person under `token`, opened; None if there is none."""
    path = f"{_staged_folder(workspace, user)}/{token}.zip"
    if not _STAGE_TOKEN.match(token or "") or not _staging().exists(path):
        return None
    return _staging().open(path, "rb")


def code_unstage(*, workspace: Workspace, user, token: str) -> None:
    if _STAGE_TOKEN.match(token or ""):
        _staging().delete(f"{_staged_folder(workspace, user)}/{token}.zip")


# -- a model from a job's files --------------------------------------------------------------------------

_JOB_OUTPUT_URI = re.compile(
    r"^azureml://jobs/(?P<job>[^/]+)/outputs/(?:artifacts/paths/(?P<path>.+)|(?P<output>[^/]+)/?)$"
)


@transaction.atomic
def model_register_from_job(
    *, job: Job, user, fields: model_services.ModelFields, path: str = "", output: str = ""
) -> Model:
    """Register a file or folder of the job's folder (`path`), or one of its named outputs (`output`),
    as a model version whose lineage is the job; nothing is left registered if any step fails."""
    if output:
        binding = (job.spec or {}).get("outputs", {}).get(output)
        if binding is None:
            raise ValidationError({"path": f"{job.name} has no output named {output!r}."})
        datastore, stored = binding["datastore"], binding["path"]
        source = f"azureml://jobs/{job.name}/outputs/{output}"
    else:
        path = clean_path(path, field="path", allow_root=False)
        if not path:
            raise ValidationError({"path": "Choose a file or folder of the job."})
        datastore, stored = "workspaceartifactstore", join(job.artifact_prefix, path)
        source = f"azureml://jobs/{job.name}/outputs/artifacts/paths/{path}"
    model = model_services.model_create_from_datastore(
        workspace=job.workspace, user=user, fields=fields, path=stored, datastore=datastore
    )
    model.job_name = job.name
    model.source = source
    model.save(update_fields=["job_name", "source"])
    return model


def model_register_from_job_uri(*, workspace: Workspace, user, fields, uri: str) -> Model:
    """The models API's `azureml://jobs/<job>/outputs/<output>` and
    `azureml://jobs/<job>/outputs/artifacts/paths/<path>`, as Azure ML names a job's files."""
    match = _JOB_OUTPUT_URI.match(uri or "")
    if not match:
        raise ValidationError(
            {
                "path": "Give a job's files as azureml://jobs/<job>/outputs/<output> or "
                "azureml://jobs/<job>/outputs/artifacts/paths/<path>."
            }
        )
    job = Job.objects.filter(workspace=workspace, name=match["job"]).first()
    if job is None:
        raise ValidationError({"path": f"No job named {match['job']!r} in {workspace.name}."})
    return model_register_from_job(
        job=job, user=user, fields=fields, path=match["path"] or "", output=match["output"] or ""
    )

"""Jobs (command, sweep, pipeline), their experiments, status history and logs.

The database is the source of truth for a job's state; a Celery message only nudges a node.
"""

from django.conf import settings
from django.db import models

from workspaces.models import Workspace


class LifecycleStage(models.TextChoices):
    ACTIVE = "active"
    DELETED = "deleted"


class Experiment(models.Model):
    """An Azure ML experiment, which is also an MLflow experiment (its id is the primary key)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    lifecycle_stage = models.CharField(max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE)
    artifact_location = models.CharField(max_length=1024, blank=True, help_text="Empty: the studio's default")
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="experiment_unique_name")]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCEL_REQUESTED = "CancelRequested"
    CANCELED = "Canceled"


TERMINAL = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
ACTIVE = {s for s in JobStatus if s not in TERMINAL}


class Job(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=20, default="command")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.NOT_STARTED)
    status_reason = models.TextField(blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    yaml = models.TextField(blank=True, help_text="The spec as submitted")
    spec = models.JSONField(default=dict, help_text="The validated, resolved spec")
    command = models.TextField(blank=True)
    code_path = models.CharField(max_length=1024, blank=True, help_text="Snapshot folder in the artifact store")
    code_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the snapshot, checked before it runs"
    )
    compute = models.ForeignKey(
        "compute.ComputeCluster", on_delete=models.PROTECT, null=True, blank=True, related_name="jobs"
    )
    environment = models.ForeignKey(
        "assets.Environment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    timeout = models.PositiveIntegerField(null=True, blank=True, help_text="limits.timeout in seconds")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    # Where and how it runs (filled by the node that claims it).
    node = models.ForeignKey("compute.ComputeNode", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    node_name = models.CharField(max_length=100, blank=True, help_text="Kept when the node is gone (scale-down)")
    hostname = models.CharField(max_length=255, blank=True)
    pgid = models.IntegerField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    log_size = models.BigIntegerField(default=0)

    # MLflow: a job's run is the job. Tags live in `tags` (MLflow's system tags included).
    params = models.JSONField(default=dict, blank=True)
    lifecycle_stage = models.CharField(max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE)
    is_archived = models.BooleanField(default=False, help_text="Hidden from the Jobs list unless asked for")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="job_unique_name")]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def artifact_prefix(self) -> str:
        """The job's folder in workspaceartifactstore, as Azure ML names it."""
        return f"ExperimentRun/dcid.{self.name}"

    @property
    def duration(self):
        if self.started_at and self.ended_at:
            return self.ended_at - self.started_at
        return None


class JobStatusEvent(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=JobStatus.choices)
    message = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.job_id} {self.status}"


class JobLogChunk(models.Model):
    """The live log, in appended chunks: `offset` is the byte offset of the chunk's first byte in
    user_logs/std_log.txt, so a reader resumes exactly where it stopped."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_chunks")
    offset = models.BigIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["offset"]
        constraints = [models.UniqueConstraint(fields=["job", "offset"], name="log_chunk_unique_offset")]

    def __str__(self) -> str:
        return f"{self.job_id}@{self.offset}"

"""Compute clusters: a cluster is a Celery queue; its nodes are worker processes listening on it."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from workspaces.models import Workspace

compute_name_validator = RegexValidator(
    r"^[a-zA-Z][a-zA-Z0-9-]{1,23}$",
    "Use 2 to 24 letters, digits and hyphens, starting with a letter.",
)


class ComputeCluster(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="compute_clusters")
    name = models.CharField(max_length=24, validators=[compute_name_validator])
    size = models.CharField(max_length=100, default="Standard_DS3_v2", help_text="Recorded, as Azure ML's VM size")
    tier = models.CharField(max_length=20, default="dedicated")
    min_instances = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(100)])
    max_instances = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(100)])
    idle_time_before_scale_down = models.PositiveIntegerField(default=120, help_text="Seconds")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="compute_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        """The Celery queue the cluster's nodes listen on."""
        return f"cluster.{self.workspace.guid.hex[:12]}.{self.name}"


class NodeState(models.TextChoices):
    STARTING = "starting", "Starting"
    IDLE = "idle", "Idle"
    BUSY = "busy", "Busy"
    STOPPING = "stopping", "Stopping"


class ComputeNode(models.Model):
    """One worker process of a cluster (a Celery worker with concurrency 1 on the cluster's queue).
    The job it runs is the job that names it (`Job.node`): one owner for the assignment."""

    cluster = models.ForeignKey(ComputeCluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=100, unique=True, help_text="The Celery worker's node name")
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField(null=True, blank=True)
    managed = models.BooleanField(default=True, help_text="Started by this studio's node manager (not joined by hand)")
    state = models.CharField(max_length=20, choices=NodeState.choices, default=NodeState.STARTING)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster", "started_at"]

    def __str__(self) -> str:
        return self.name

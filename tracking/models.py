"""Experiment tracking: what the MLflow client logs to a run (a job), and MLflow 3's logged models.

Experiments and runs are the jobs app's Experiment and Job; params and tags are JSON on the Job.
The model registry is the Models section (assets.Model versions, assets.RegisteredModel).
"""

from django.db import models

from jobs.models import Experiment, Job, LifecycleStage
from workspaces.models import Workspace


class Metric(models.Model):
    """One logged value. `value` is NULL for NaN (SQLite cannot store NaN); +-inf are stored as is."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(max_length=250)
    value = models.FloatField(null=True)
    timestamp = models.BigIntegerField(help_text="Milliseconds since the epoch")
    step = models.BigIntegerField(default=0)
    model_id = models.CharField(max_length=64, blank=True)
    dataset_name = models.CharField(max_length=500, blank=True)
    dataset_digest = models.CharField(max_length=36, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "key", "step", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.key}={self.value}@{self.step}"


class LatestMetric(models.Model):
    """The latest value of each metric of a run (greatest step, then timestamp, then value), as
    MLflow reports it in a run's data and compares it in search filters."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="latest_metrics")
    key = models.CharField(max_length=250)
    value = models.FloatField(null=True)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="latest_metric_unique_key")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}@{self.step}"


class Dataset(models.Model):
    """An MLflow dataset (log_input), unique by name and digest within an experiment."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=500)
    digest = models.CharField(max_length=36)
    source_type = models.CharField(max_length=36)
    source = models.TextField()
    schema = models.TextField(blank=True)
    profile = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "name", "digest"], name="dataset_unique_digest")]

    def __str__(self) -> str:
        return f"{self.name}:{self.digest}"


class RunInput(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dataset_inputs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "dataset"], name="run_input_unique")]

    def __str__(self) -> str:
        return f"{self.job_id} <- {self.dataset_id}"


class LoggedModelStatus(models.TextChoices):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


class LoggedModel(models.Model):
    """An MLflow 3 logged model (`/logged-models`): the target of `log_model`."""

    model_id = models.CharField(max_length=64, unique=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="logged_models")
    name = models.CharField(max_length=500)
    artifact_location = models.CharField(max_length=1024)
    status = models.CharField(max_length=10, choices=LoggedModelStatus.choices, default=LoggedModelStatus.PENDING)
    status_message = models.TextField(blank=True)
    source_run = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="logged_models")
    model_type = models.CharField(max_length=500, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    lifecycle_stage = models.CharField(max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE)
    creation_timestamp = models.BigIntegerField()
    last_updated_timestamp = models.BigIntegerField()

    class Meta:
        ordering = ["-creation_timestamp"]

    def __str__(self) -> str:
        return self.model_id


class RunOutput(models.Model):
    """A logged model a run produced (`runs/outputs`)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="model_outputs")
    model_id = models.CharField(max_length=64)
    step = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "model_id"], name="run_output_unique")]

    def __str__(self) -> str:
        return f"{self.job_id} -> {self.model_id}"

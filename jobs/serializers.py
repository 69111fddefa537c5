from django.conf import settings
from rest_framework import serializers

from .models import Job, JobStatus, JobStatusEvent
from .selectors import SORTS

MAX_PAGE = 200


class JobSerializer(serializers.ModelSerializer):
    """A job as `az ml job list` shows it."""

    experiment_name = serializers.CharField(source="experiment.name", read_only=True)
    compute = serializers.CharField(source="compute.name", read_only=True, default=None)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    start_time = serializers.DateTimeField(source="started_at", read_only=True)
    end_time = serializers.DateTimeField(source="ended_at", read_only=True)
    duration = serializers.SerializerMethodField(help_text="Seconds from the start of the command to its end")
    parent_job_name = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "name",
            "display_name",
            "type",
            "status",
            "status_reason",
            "experiment_name",
            "compute",
            "tags",
            "created_by",
            "created_at",
            "start_time",
            "end_time",
            "duration",
            "parent_job_name",
            "is_archived",
        ]

    def get_duration(self, job) -> float | None:
        duration = job.duration
        return round(duration.total_seconds(), 3) if duration is not None else None

    def get_parent_job_name(self, job) -> str | None:
        return job.parent.name if job.parent_id else None


class JobStatusEventSerializer(serializers.ModelSerializer):
    time = serializers.DateTimeField(source="at")

    class Meta:
        model = JobStatusEvent
        fields = ["status", "message", "time"]


class JobDetailSerializer(JobSerializer):
    """Everything about one job, as `az ml job show` prints it, with its status timeline."""

    environment = serializers.CharField(source="environment.reference", read_only=True, default=None)
    environment_variables = serializers.SerializerMethodField()
    code = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()
    timeline = JobStatusEventSerializer(source="events", many=True, read_only=True)
    services = serializers.SerializerMethodField()
    node = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + [
            "description",
            "command",
            "code",
            "environment",
            "environment_variables",
            "inputs",
            "outputs",
            "limits",
            "exit_code",
            "attempt",
            "node",
            "hostname",
            "log_size",
            "properties",
            "timeline",
            "services",
        ]

    def get_node(self, job) -> str | None:
        """The node the job ran on, also after scale-down removed it."""
        return job.node_name or None

    def get_environment_variables(self, job) -> dict:
        return job.spec.get("environment_variables", {})

    def get_code(self, job) -> str | None:
        """The stored snapshot of the code folder, as a datastore URI."""
        if not job.code_path:
            return None
        return f"azureml://datastores/workspaceartifactstore/paths/{job.code_path}/"

    def get_inputs(self, job) -> dict:
        """Literal values as given; data inputs with their URI (and the asset they came from)."""
        inputs: dict = dict(job.spec.get("literal_inputs", {}))
        for name, binding in job.spec.get("data_inputs", {}).items():
            inputs[name] = {
                "type": binding["type"],
                "path": binding["uri"],
                "mode": binding.get("mode"),
                "asset": binding.get("asset") or None,
            }
        return inputs

    def get_outputs(self, job) -> dict:
        return {
            name: {"type": binding["type"], "path": binding["uri"], "mode": binding.get("mode")}
            for name, binding in job.spec.get("outputs", {}).items()
        }

    def get_limits(self, job) -> dict:
        return {"timeout": job.timeout}

    def get_services(self, job) -> dict:
        base = settings.STUDIO_PUBLIC_URL.rstrip("/")
        workspace = job.workspace.name
        return {
            "Studio": {"endpoint": f"{base}/workspaces/{workspace}/jobs/{job.name}/"},
            "Tracking": {"endpoint": f"{base}/mlflow/v1.0/workspaces/{workspace}"},
        }


class JobListQuerySerializer(serializers.Serializer):
    status = serializers.CharField(
        required=False, help_text="One status or several, comma separated (e.g. `Running,Queued`)"
    )
    experiment = serializers.CharField(required=False, help_text="Experiment name")
    compute = serializers.CharField(required=False, help_text="Compute name")
    tag = serializers.CharField(required=False, help_text="`key` (has the tag) or `key=value`")
    search = serializers.CharField(required=False, help_text="Part of the name or display name")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    sort = serializers.ChoiceField(choices=sorted(SORTS), required=False, default="-created")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=50)
    offset = serializers.IntegerField(required=False, min_value=0, default=0)
    cursor = serializers.CharField(required=False, help_text="The `next_link`'s cursor, to read the next page")
    include_archived = serializers.BooleanField(required=False, default=False, help_text="Also archived jobs")

    def validate_status(self, value: str) -> list[str]:
        statuses = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in statuses if s not in JobStatus.values]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown status {', '.join(unknown)}; use one of {', '.join(JobStatus.values)}."
            )
        return statuses

    def validate_tag(self, value: str) -> str:
        key = value.partition("=")[0]
        if not key or "__" in key or not key.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise serializers.ValidationError("Give a tag as `key` or `key=value` (letters, digits, -, _ and .).")
        return value


class JobPageSerializer(serializers.Serializer):
    value = JobSerializer(many=True)
    next_link = serializers.CharField(allow_null=True, help_text="The next page's address; null on the last page")


class JobSubmitJsonSerializer(serializers.Serializer):
    spec = serializers.CharField(max_length=256 * 1024, trim_whitespace=False, help_text="The job's YAML")
    conda_file = serializers.CharField(required=False, trim_whitespace=False, max_length=256 * 1024)


class JobFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField(help_text="Relative to the job's folder, e.g. `outputs/model.pkl`")
    is_folder = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True)
    modified = serializers.DateTimeField(allow_null=True)

from rest_framework import serializers

from assets.models import Environment, EnvironmentBuild

from . import envbuild


class EnvironmentBuildSerializer(serializers.ModelSerializer):
    python = serializers.CharField(source="spec.python", read_only=True)
    requirements = serializers.ListField(source="spec.requirements", read_only=True, child=serializers.CharField())

    class Meta:
        model = EnvironmentBuild
        fields = ["spec_hash", "status", "error", "python", "requirements", "started_at", "finished_at"]


class EnvironmentSerializer(serializers.ModelSerializer):
    """An environment version, in the shape `az ml environment show` prints (plus its build)."""

    id = serializers.CharField(source="reference", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    build = EnvironmentBuildSerializer(read_only=True)
    build_status = serializers.CharField(source="build.status", read_only=True, default="NotBuilt")
    python_path = serializers.SerializerMethodField()

    class Meta:
        model = Environment
        fields = [
            "id",
            "name",
            "version",
            "description",
            "tags",
            "image",
            "conda_file",
            "pip_requirements",
            "is_curated",
            "is_archived",
            "build_status",
            "build",
            "python_path",
            "created_by",
            "created_at",
        ]

    def get_python_path(self, environment) -> str | None:
        """The built interpreter, once the build has succeeded."""
        build = environment.build
        if build is None or build.status != "Succeeded":
            return None
        return str(envbuild.python_path(build.spec_hash))


class EnvironmentCreateSerializer(serializers.Serializer):
    """Either `yaml` (Azure ML environment YAML; `conda_file` is then the content of the file it names)
    or the fields themselves with `conda_file` or `pip_requirements` text."""

    yaml = serializers.CharField(required=False, allow_blank=False, max_length=256 * 1024, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=200_000)
    tags = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=5000), required=False, default=dict
    )
    image = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    conda_file = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, max_length=256 * 1024, trim_whitespace=False
    )
    pip_requirements = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=256 * 1024, trim_whitespace=False
    )
    python = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)


class EnvironmentUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=200_000)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=5000), required=False)


class BuildLogSerializer(serializers.Serializer):
    status = serializers.CharField()
    error = serializers.CharField()
    offset = serializers.IntegerField()
    next_offset = serializers.IntegerField()
    content = serializers.CharField()
    finished = serializers.BooleanField(help_text="The build has ended and `content` reaches the end of its log.")

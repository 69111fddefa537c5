from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assets.models import Model, ModelType
from core import json_bodies


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class JsonObjectField(serializers.Field):
    """A mapping, given as a JSON object (JSON bodies) or as JSON text (multipart forms)."""

    default_error_messages = {"invalid": 'Give a JSON object, e.g. {{"team": "risk"}}.'}  # braces doubled: str.format

    def to_internal_value(self, data):
        if isinstance(data, str):
            if not data.strip():
                return {}
            try:
                data = json_bodies.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class ModelCreateSerializer(serializers.Serializer):
    """The fields of a registration; the files, the datastore path or the YAML say where the model is."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    version = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    type = serializers.ChoiceField(choices=ModelType.choices, required=False, default=ModelType.CUSTOM)
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000, default="")
    tags = JsonObjectField(required=False, default=dict)
    properties = JsonObjectField(required=False, default=dict)
    path = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        default="",
        help_text="azureml://datastores/<name>/paths/<path>, or a path inside `datastore`",
    )
    datastore = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    yaml = serializers.CharField(
        required=False, allow_blank=True, max_length=300_000, default="", help_text="A model YAML, as text"
    )


class ModelUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    tags = JsonObjectField(required=False)


class ModelSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="reference", read_only=True)
    datastore = serializers.CharField(source="datastore.name", read_only=True)
    uri = serializers.CharField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    version_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Model
        fields = [
            "id",
            "name",
            "version",
            "type",
            "description",
            "tags",
            "properties",
            "datastore",
            "path",
            "uri",
            "flavors",
            "signature",
            "input_example",
            "job_name",
            "is_archived",
            "created_by",
            "created_at",
            "version_count",
        ]


class ModelFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField(help_text="Relative to the model's folder")
    is_folder = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True)

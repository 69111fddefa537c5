from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assets.models import DataAsset, DataType, UploadSession

from .uploads import CHUNK_SIZE, missing_json, missing_ranges


class DataAssetSerializer(serializers.ModelSerializer):
    """A data asset version, in the shape `az ml data show` prints."""

    id = serializers.CharField(source="reference", read_only=True)
    path = serializers.CharField(source="uri", read_only=True)
    datastore = serializers.CharField(source="datastore.name", read_only=True)
    relative_path = serializers.CharField(source="path", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = DataAsset
        fields = [
            "id",
            "name",
            "version",
            "type",
            "path",
            "datastore",
            "relative_path",
            "original_name",
            "description",
            "tags",
            "size",
            "file_count",
            "is_archived",
            "created_by",
            "created_at",
        ]


class UploadedFileSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="A completed upload (POST .../data/uploads)")
    path = serializers.CharField(
        required=False, allow_blank=True, max_length=1024, help_text="Its path inside the asset, e.g. `data/train.csv`"
    )


class DataAssetCreateSerializer(serializers.Serializer):
    """One of: `yaml` (Azure ML data YAML), `uploads`, a `path` URI, or `datastore` + `path`."""

    yaml = serializers.CharField(required=False, allow_blank=False, max_length=256 * 1024, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100, default=None)
    type = serializers.ChoiceField(choices=DataType.choices, required=False, default=DataType.URI_FOLDER)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=200_000)
    tags = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=5000), required=False, default=dict
    )
    path = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    datastore = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    uploads = UploadedFileSerializer(many=True, required=False, default=list)


class DataAssetUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=200_000)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=5000), required=False)


class UploadCreateSerializer(serializers.Serializer):
    file_name = serializers.CharField(max_length=5000, help_text="The file's relative path (metadata only)")
    size = serializers.IntegerField(min_value=0, help_text="The whole file's size in bytes")
    parallel = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send chunks in any order and several at once (each at its own offset); default: in order",
    )


class MissingRangeSerializer(serializers.Serializer):
    start = serializers.IntegerField(help_text="First byte still to send")
    end = serializers.IntegerField(help_text="Last byte still to send (inclusive, as in Content-Range)")


class UploadSessionSerializer(serializers.ModelSerializer):
    chunk_size = serializers.SerializerMethodField()
    complete = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()

    class Meta:
        model = UploadSession
        fields = [
            "id",
            "file_name",
            "size",
            "received",
            "parallel",
            "missing",
            "chunk_size",
            "complete",
            "created_at",
            "updated_at",
        ]

    def get_chunk_size(self, session) -> int:
        return CHUNK_SIZE

    @extend_schema_field(MissingRangeSerializer(many=True))
    def get_missing(self, session) -> list[dict]:
        """The byte ranges still to send (the first MISSING_LISTED of them)."""
        return missing_json(missing_ranges(session))

    def get_complete(self, session) -> bool:
        return session.received == session.size


class UploadProgressSerializer(serializers.Serializer):
    received = serializers.IntegerField()

from rest_framework import serializers

from assets.models import Component


class ComponentCreateSerializer(serializers.Serializer):
    yaml = serializers.CharField(max_length=300_000, help_text="The component YAML, as text (or a file part)")
    conda_file = serializers.CharField(
        required=False, allow_blank=True, max_length=100_000, default="", help_text="An inline environment's conda file"
    )


class ComponentSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="reference", read_only=True)
    datastore = serializers.CharField(source="datastore.name", read_only=True, default=None)
    code = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    version_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Component
        fields = [
            "id",
            "name",
            "version",
            "type",
            "display_name",
            "description",
            "tags",
            "spec",
            "datastore",
            "code_path",
            "code",
            "is_archived",
            "created_by",
            "created_at",
            "version_count",
        ]

    def get_code(self, component) -> str | None:
        return component.datastore.uri(component.code_path + "/") if component.code_path else None


class ComponentDetailSerializer(ComponentSerializer):
    class Meta(ComponentSerializer.Meta):
        fields = [*ComponentSerializer.Meta.fields, "yaml"]

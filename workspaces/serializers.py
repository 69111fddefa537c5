from rest_framework import serializers

from .models import Datastore, DatastoreKind, Membership, Workspace
from .roles import Role


class WorkspaceSerializer(serializers.ModelSerializer):
    storage_account = serializers.CharField(source="storage_account.name", read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["name", "display_name", "description", "guid", "storage_account", "created_at", "role"]
        read_only_fields = ["guid", "created_at"]

    def get_role(self, workspace) -> str | None:
        return self.context.get("roles", {}).get(workspace.pk)


class WorkspaceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, max_length=1000)
    display_name = serializers.CharField(allow_blank=True, required=False, default="", max_length=1000)
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=20000)


class WorkspaceUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(allow_blank=True, required=False, max_length=1000)
    description = serializers.CharField(allow_blank=True, required=False, max_length=20000)


class DatastoreSerializer(serializers.ModelSerializer):
    """A datastore as anyone who can read the workspace sees it: never its credentials."""

    uri = serializers.SerializerMethodField()
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    storage_account = serializers.CharField(source="storage_account.name", read_only=True, default=None)

    class Meta:
        model = Datastore
        fields = [
            "name",
            "kind",
            "kind_display",
            "description",
            "account_name",
            "container_name",
            "endpoint",
            "root",
            "is_default",
            "credential_type",
            "storage_account",
            "uri",
            "created_at",
        ]

    def get_uri(self, datastore) -> str:
        return datastore.uri()


class DatastoreCreateSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, max_length=1000)
    kind = serializers.ChoiceField(choices=DatastoreKind.choices)
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=20000)
    account_name = serializers.CharField(allow_blank=True, required=False, default="", max_length=255)
    container_name = serializers.CharField(allow_blank=True, required=False, default="", max_length=255)
    endpoint = serializers.CharField(allow_blank=True, required=False, default="", max_length=255)
    root = serializers.CharField(allow_blank=True, required=False, default="", max_length=1024)
    credentials = serializers.DictField(child=serializers.CharField(max_length=4096), required=False, default=dict)


class FileEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    is_folder = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True)
    modified = serializers.DateTimeField(allow_null=True)
    uri = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    role_display = serializers.CharField(source="get_role_display", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "role_display", "created_at"]


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)

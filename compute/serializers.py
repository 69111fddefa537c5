from rest_framework import serializers

from .models import ComputeCluster, ComputeNode, NodeState


class ComputeNodeSerializer(serializers.ModelSerializer):
    """A node of a cluster: one worker process, and the job it runs (as `az ml compute list-nodes`)."""

    node_id = serializers.CharField(source="name", read_only=True)
    node_state = serializers.CharField(source="state", read_only=True)
    run_id = serializers.CharField(source="job.name", read_only=True, default=None)

    class Meta:
        model = ComputeNode
        fields = [
            "node_id",
            "hostname",
            "pid",
            "node_state",
            "run_id",
            "managed",
            "started_at",
            "heartbeat_at",
            "idle_since",
        ]


class ComputeClusterSerializer(serializers.ModelSerializer):
    """A compute cluster in the shape `az ml compute show` prints, with its nodes."""

    id = serializers.SerializerMethodField()
    type = serializers.SerializerMethodField()
    provisioning_state = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    current_node_count = serializers.SerializerMethodField()
    busy_node_count = serializers.SerializerMethodField()
    nodes = ComputeNodeSerializer(many=True, read_only=True)

    class Meta:
        model = ComputeCluster
        fields = [
            "id",
            "name",
            "type",
            "size",
            "tier",
            "min_instances",
            "max_instances",
            "idle_time_before_scale_down",
            "description",
            "tags",
            "provisioning_state",
            "current_node_count",
            "busy_node_count",
            "nodes",
            "created_by",
            "created_at",
        ]

    def get_id(self, cluster) -> str:
        return f"azureml:{cluster.name}"

    def get_type(self, cluster) -> str:
        return "amlcompute"

    def get_provisioning_state(self, cluster) -> str:
        return "Succeeded"

    def _nodes(self, cluster) -> list[ComputeNode]:
        return [n for n in cluster.nodes.all() if n.state != NodeState.STOPPING]

    def get_current_node_count(self, cluster) -> int:
        return len(self._nodes(cluster))

    def get_busy_node_count(self, cluster) -> int:
        return sum(1 for n in self._nodes(cluster) if n.state == NodeState.BUSY)


class ComputeCreateSerializer(serializers.Serializer):
    """Either `yaml` (an Azure ML amlCompute YAML) or the fields themselves."""

    yaml = serializers.CharField(required=False, allow_blank=False, max_length=64 * 1024, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    type = serializers.ChoiceField(choices=["amlcompute"], required=False, default="amlcompute")
    size = serializers.CharField(required=False, allow_blank=True, max_length=100, default="Standard_DS3_v2")
    min_instances = serializers.IntegerField(required=False, default=0, min_value=0, max_value=100)
    max_instances = serializers.IntegerField(required=False, default=2, min_value=1, max_value=100)
    idle_time_before_scale_down = serializers.IntegerField(required=False, default=120, min_value=0)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")
    tags = serializers.DictField(child=serializers.CharField(max_length=1024), required=False, default=dict)


class ComputeUpdateSerializer(serializers.Serializer):
    """What `az ml compute update` changes on a cluster; fields left out keep their value."""

    min_instances = serializers.IntegerField(required=False, min_value=0, max_value=100)
    max_instances = serializers.IntegerField(required=False, min_value=1, max_value=100)
    idle_time_before_scale_down = serializers.IntegerField(required=False, min_value=0)

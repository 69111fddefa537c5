"""REST API for compute clusters, in the shape of Azure ML's: /computes, /computes/<name> (with its nodes)."""

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from workspaces.access import WorkspaceAPIView
from workspaces.roles import Perm

from . import selectors, services
from .serializers import ComputeClusterSerializer, ComputeCreateSerializer, ComputeUpdateSerializer
from .spec import parse_cluster_yaml


class _ComputeApi(WorkspaceAPIView):
    read_permission = Perm.COMPUTE_READ
    write_permission = Perm.COMPUTE_WRITE

    def get_cluster(self, name):
        cluster = selectors.cluster_by_name(workspace=self.access.workspace, name=name)
        if cluster is None:
            raise Http404(f"No compute named {name!r} in {self.access.workspace.name}.")
        return selectors.with_running_jobs([cluster])[0]

    def reloaded(self, cluster):
        return self.get_cluster(cluster.name)


class ComputeListApi(_ComputeApi):
    @extend_schema(operation_id="workspaces_computes_list", responses=ComputeClusterSerializer(many=True))
    def get(self, request, workspace):
        """The workspace's compute clusters, each with its nodes."""
        clusters = selectors.with_running_jobs(selectors.clusters_for_workspace(workspace=self.access.workspace))
        return Response(ComputeClusterSerializer(clusters, many=True).data)

    @extend_schema(request=ComputeCreateSerializer, responses={201: ComputeClusterSerializer})
    def post(self, request, workspace):
        """Create a cluster from an Azure ML amlCompute YAML (`yaml`) or from its fields."""
        serializer = ComputeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        fields = {k: data[k] for k in ("name", "size", "min_instances", "max_instances", "description", "tags")}
        fields["idle_time_before_scale_down"] = data["idle_time_before_scale_down"]
        spec = None
        if "yaml" in data:
            spec = parse_cluster_yaml(data["yaml"])
            fields = spec.fields()
        try:
            cluster = services.cluster_create(workspace=self.access.workspace, user=request.user, **fields)
        except ValidationError as exc:
            raise (spec.with_lines(exc) if spec else exc) from None
        return Response(ComputeClusterSerializer(self.reloaded(cluster)).data, status=status.HTTP_201_CREATED)


class ComputeDetailApi(_ComputeApi):
    @extend_schema(responses=ComputeClusterSerializer)
    def get(self, request, workspace, name):
        return Response(ComputeClusterSerializer(self.get_cluster(name)).data)

    @extend_schema(request=ComputeUpdateSerializer, responses=ComputeClusterSerializer)
    def patch(self, request, workspace, name):
        """Change min_instances, max_instances or idle_time_before_scale_down (as `az ml compute update`)."""
        cluster = self.get_cluster(name)
        serializer = ComputeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = {
            key: serializer.validated_data.get(key, getattr(cluster, key))
            for key in ("min_instances", "max_instances", "idle_time_before_scale_down")
        }
        services.cluster_update(cluster=cluster, **values)
        return Response(ComputeClusterSerializer(self.reloaded(cluster)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workspace, name):
        """Delete a cluster that never ran a job (its nodes stop)."""
        services.cluster_delete(cluster=self.get_cluster(name))
        return Response(status=status.HTTP_204_NO_CONTENT)

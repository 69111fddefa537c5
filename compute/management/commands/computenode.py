import os
import socket

from django.core.management.base import BaseCommand, CommandError

from compute.models import ComputeCluster, ComputeNode, NodeState
from compute.nodes import node_command, node_environment


class Command(BaseCommand):
    help = "Join this host to a compute cluster as one node: `manage.py computenode WORKSPACE CLUSTER`."

    def add_arguments(self, parser):
        parser.add_argument("workspace")
        parser.add_argument("cluster")

    def handle(self, *args, workspace, cluster, **options):
        target = (
            ComputeCluster.objects.select_related("workspace").filter(workspace__name=workspace, name=cluster).first()
        )
        if target is None:
            raise CommandError(f"No compute cluster {cluster!r} in workspace {workspace!r}.")
        hostname = socket.gethostname()
        name = f"{cluster}-{os.getpid()}@{hostname}"
        ComputeNode.objects.update_or_create(
            name=name, defaults={"cluster": target, "hostname": hostname, "managed": False, "state": NodeState.STARTING}
        )
        self.stdout.write(f"Joining {workspace}/{cluster} as node {name} (queue {target.queue}).")
        command = node_command(target, name)
        os.execve(command[0], command, node_environment(name))  # noqa: S606 - becomes the node's Celery worker

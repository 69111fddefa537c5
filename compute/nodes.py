"""The node manager: on this machine it starts a cluster's nodes (Celery workers listening on the
cluster's queue, one job at a time) as jobs queue, up to max_instances, and stops nodes idle for
longer than idle_time_before_scale_down, down to min_instances.

A worker started by hand on another host with `manage.py computenode WORKSPACE CLUSTER` joins the
same cluster; the manager counts it but never stops it.
"""

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from . import workload
from .models import ComputeCluster, ComputeNode, NodeState

logger = logging.getLogger(__name__)
HEARTBEAT_INTERVAL = 1.0  # seconds between the manager's heartbeats of its nodes


def node_environment(node_name: str) -> dict[str, str]:
    """A node's process environment. Django's system checks are skipped: they import every URL
    module (and with them mlflow and pandas), seconds a node does not need to run a job."""
    return dict(os.environ, STUDIO_NODE_NAME=node_name, PYTHONUNBUFFERED="1", CELERY_SKIP_CHECKS="1")


def node_command(cluster: ComputeCluster, node_name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "studio",
        "worker",
        "-Q",
        cluster.queue,
        "-n",
        node_name,
        "--concurrency",
        "1",
        "--prefetch-multiplier",
        "1",
        "-O",
        "fair",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "-l",
        "WARNING",
    ]


class NodeManager:
    def __init__(self, *, hostname: str | None = None):
        self.hostname = hostname or socket.gethostname()
        self.processes: dict[int, subprocess.Popen] = {}  # node pk -> process
        self.orphans: set[int] = set()  # nodes of deleted clusters, told to stop
        self.heartbeat_sent = 0.0

    def forget_stale_nodes(self) -> None:
        """Rows of nodes this host started in an earlier run are gone with that run."""
        ComputeNode.objects.filter(hostname=self.hostname, managed=True).delete()

    def start_node(self, cluster: ComputeCluster) -> ComputeNode:
        node_name = f"{cluster.name}-{secrets.token_hex(3)}@{self.hostname}"
        node = ComputeNode.objects.create(cluster=cluster, name=node_name, hostname=self.hostname, managed=True)
        proc = subprocess.Popen(node_command(cluster, node_name), env=node_environment(node_name))
        ComputeNode.objects.filter(pk=node.pk).update(pid=proc.pid)
        self.processes[node.pk] = proc
        logger.warning("Started node %s for cluster %s (pid %s)", node_name, cluster.name, proc.pid)
        return node

    def stop_node(self, node: ComputeNode) -> None:
        proc = self.processes.get(node.pk)
        ComputeNode.objects.filter(pk=node.pk).update(state=NodeState.STOPPING)
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # warm shutdown: a running job finishes first
        logger.warning("Stopping idle node %s", node.name)

    def collect_exited(self) -> None:
        for pk, proc in list(self.processes.items()):
            if proc.poll() is not None:
                ComputeNode.objects.filter(pk=pk).delete()
                del self.processes[pk]
        if time.monotonic() - self.heartbeat_sent >= HEARTBEAT_INTERVAL:
            ComputeNode.objects.filter(pk__in=list(self.processes)).update(heartbeat_at=timezone.now())
            self.heartbeat_sent = time.monotonic()
        # A node whose row is gone (its cluster was deleted) stops, after the job it may be running.
        known = set(ComputeNode.objects.filter(pk__in=list(self.processes)).values_list("pk", flat=True))
        for pk in set(self.processes) - known - self.orphans:
            self.processes[pk].send_signal(signal.SIGTERM)
            self.orphans.add(pk)

    def scale(self) -> None:
        now = timezone.now()
        clusters = list(ComputeCluster.objects.select_related("workspace"))
        demand = workload.current().demand([cluster.pk for cluster in clusters])
        for cluster in clusters:
            cluster.demand = demand.get(cluster.pk, 0)
            nodes = list(cluster.nodes.exclude(state=NodeState.STOPPING))
            alive = [n for n in nodes if n.managed is False or n.pk in self.processes]
            wanted = min(cluster.max_instances, max(cluster.min_instances, cluster.demand))
            for _ in range(wanted - len(alive)):
                alive.append(self.start_node(cluster))
            surplus = len(alive) - max(cluster.min_instances, cluster.demand)
            if surplus <= 0:
                continue
            idle_cutoff = now - timedelta(seconds=cluster.idle_time_before_scale_down)
            for node in alive:
                if surplus <= 0:
                    break
                if (
                    node.managed
                    and node.pk in self.processes
                    and node.state == NodeState.IDLE
                    and node.idle_since
                    and node.idle_since <= idle_cutoff
                ):
                    self.stop_node(node)
                    surplus -= 1

    def stop_all(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        ComputeNode.objects.filter(pk__in=list(self.processes)).delete()

    def loop(self, *, interval: float = 0.1) -> None:
        self.forget_stale_nodes()
        stopping = False

        def _stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            while not stopping:
                close_old_connections()
                try:
                    self.collect_exited()
                    self.scale()
                except Exception:  # noqa: BLE001 - the manager must outlive a database hiccup
                    logger.exception("Node manager pass failed")
                time.sleep(interval)
        finally:
            self.stop_all()


def node_ready(node_name: str, pid: int) -> None:
    """Called in a node's worker process when Celery is ready to take jobs."""
    ComputeNode.objects.filter(name=node_name).update(
        state=NodeState.IDLE, idle_since=timezone.now(), pid=pid, heartbeat_at=timezone.now()
    )


def settings_summary() -> str:
    return f"nodes under {settings.STUDIO_DATA_DIR}"

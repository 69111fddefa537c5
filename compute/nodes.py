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

from core.processes import die_with_parent

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
    def __init__(self, *, hostname: str | None = None, fork: bool = False):
        """`fork`: start nodes as forks of this process, with the worker's modules imported once
        beforehand (preload_node_modules), rather than as new interpreters that import them again."""
        self.hostname = hostname or socket.gethostname()
        self.fork = fork
        self.processes: dict[int, subprocess.Popen | ForkedNode] = {}  # node pk -> process
        self.orphans: set[int] = set()  # nodes of deleted clusters, told to stop
        self.heartbeat_sent = 0.0

    def forget_stale_nodes(self) -> None:
        """Rows of nodes this host started in an earlier run are gone with that run."""
        ComputeNode.objects.filter(hostname=self.hostname, managed=True).delete()

    def start_node(self, cluster: ComputeCluster) -> ComputeNode:
        node_name = f"{cluster.name}-{secrets.token_hex(3)}@{self.hostname}"
        node = ComputeNode.objects.create(cluster=cluster, name=node_name, hostname=self.hostname, managed=True)
        # A node dies with the manager (its warm shutdown lets a running job finish).
        if self.fork:
            proc = fork_node(cluster, node_name)
        else:
            proc = subprocess.Popen(
                node_command(cluster, node_name),
                env=node_environment(node_name),
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - the manager runs no threads
            )
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


class ForkedNode:
    """A node forked from the manager: the part of subprocess.Popen the manager uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode


def preload_node_modules() -> None:
    """Import, once in the manager, what a node's worker imports at start: its forks start at once."""
    import celery.apps.worker  # noqa: F401
    import celery.bin.celery  # noqa: F401 - its command line pulls in click-repl, prompt_toolkit, pygments
    import celery.concurrency.prefork  # noqa: F401
    import celery.worker.consumer  # noqa: F401
    from celery import current_app

    current_app.loader.import_default_modules()
    current_app.connection_for_read().transport  # noqa: B018 - imports the broker's transport


def fork_node(cluster: ComputeCluster, node_name: str) -> ForkedNode:
    """A child of this process becomes the node's Celery worker (as node_command would start it)."""
    from celery import current_app
    from django.db import connections

    connections.close_all()  # a child must not share the manager's database connections
    dies_with_the_manager = die_with_parent()
    pid = os.fork()
    if pid:
        return ForkedNode(pid)
    code = 1
    try:
        dies_with_the_manager()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.environ.update(node_environment(node_name))
        current_app.worker_main(node_command(cluster, node_name)[5:])  # from "worker" on
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a child of the manager never returns into its loop
        logger.exception("Node %s failed", node_name)
    finally:
        os._exit(code)


def node_ready(node_name: str, pid: int) -> None:
    """Called in a node's worker process when Celery is ready to take jobs."""
    ComputeNode.objects.filter(name=node_name).update(
        state=NodeState.IDLE, idle_since=timezone.now(), pid=pid, heartbeat_at=timezone.now()
    )


def settings_summary() -> str:
    return f"nodes under {settings.STUDIO_DATA_DIR}"

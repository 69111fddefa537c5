import os

from celery import Celery
from celery.signals import worker_ready
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

# The embedded broker: kombu's filesystem transport with atomic message files (studio/broker.py).
TRANSPORT_ALIASES["filesystem"] = "core.broker:Transport"

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def announce_worker(sender=None, **kwargs):
    """A new worker reports in at once: a compute node marks itself idle (ready for a job), the
    studio's own worker through the broker, rather than at the next heartbeat."""
    node_name = os.environ.get("STUDIO_NODE_NAME")
    if node_name:
        from compute.nodes import node_ready

        node_ready(node_name, os.getpid())
    else:
        sender.app.send_task("core.tasks.record_worker_heartbeat")

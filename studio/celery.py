import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def announce_worker(sender=None, **kwargs):
    """A new worker reports in through the broker at once, rather than at the next heartbeat."""
    sender.app.send_task("studio.tasks.record_worker_heartbeat")

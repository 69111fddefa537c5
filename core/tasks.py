from celery import shared_task
from django.utils import timezone

from .models import WorkerHeartbeat


@shared_task(bind=True, ignore_result=True)
def record_worker_heartbeat(self) -> None:
    """Sent by the scheduler; whichever worker takes it records that it is alive."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or "unknown", defaults={"last_seen": timezone.now()}
    )

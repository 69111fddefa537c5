from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker answered the scheduler's heartbeat task."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname

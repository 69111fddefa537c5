from celery import shared_task

from .uploads import upload_sessions_discard_stale


@shared_task(name="assets.data.discard_stale_uploads")
def discard_stale_uploads() -> int:
    """Scheduled (CELERY_BEAT_SCHEDULE): uploads nobody has touched for a day, and their staging files.
    Each row is claimed by a conditional delete, so two schedulers never remove one upload twice."""
    return upload_sessions_discard_stale()

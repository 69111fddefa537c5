"""The state of the parts the studio depends on, for /healthz."""

from datetime import timedelta

from celery import current_app as celery_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core import sandbox

from .models import WorkerHeartbeat


def database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"status": "ok", "engine": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - report any failure
        return {"status": "error", "engine": connection.vendor, "message": str(exc)[:300]}


def broker_state() -> dict:
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"status": "ok", "transport": transport}
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "transport": transport, "message": str(exc)[:300]}


def workers_state() -> dict:
    try:
        cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_WORKER_STALE_AFTER)
        alive = list(WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("hostname", flat=True))
    except Exception:  # noqa: BLE001
        alive = []
    return {"alive": len(alive), "hostnames": alive}


def health() -> tuple[bool, dict]:
    state = {
        "database": database_state(),
        "broker": broker_state(),
        "workers": workers_state(),
        "sandbox": sandbox.describe(),  # where user code runs (single-user without a sandbox)
    }
    ok = state["database"]["status"] == "ok" and state["broker"]["status"] == "ok"
    state["status"] = "ok" if ok else "error"
    return ok, state

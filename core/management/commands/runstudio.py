import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.launcher import Launcher

# Variables only the launcher reads.
CHILD_ENV_REMOVED = {"STUDIO_ADMIN_PASSWORD"}


class Command(BaseCommand):
    help = "Start the studio: web server, Celery worker and scheduler, node manager, stopped together by Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Start only the web server and scheduler.")

    def handle(self, *args, host, port, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)  # the default cache's table, when it is one
        call_command("bootstrap")
        python = sys.executable
        # The admin password is used once, by bootstrap above; no child process inherits it.
        env = {name: value for name, value in os.environ.items() if name not in CHILD_ENV_REMOVED}
        env["PYTHONUNBUFFERED"] = "1"
        processes = {
            "web": [
                python,
                "-m",
                "uvicorn",
                "studio.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
                "--workers",
                str(settings.STUDIO_WEB_WORKERS),
            ],
            "scheduler": [
                python,
                "-m",
                "celery",
                "-A",
                "studio",
                "beat",
                "-l",
                "WARNING",
                "-s",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
            "nodes": [python, "manage.py", "nodemanager"],
        }
        if not no_worker:
            processes["worker"] = [
                python,
                "-m",
                "celery",
                "-A",
                "studio",
                "worker",
                "-l",
                "INFO",
                "--concurrency",
                "2",
                "-n",
                "worker@%h",
                "--without-mingle",
                "--without-gossip",
            ]
        admin = os.environ.get("STUDIO_ADMIN_USER") or "admin"
        url_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host  # noqa: S104
        self.stdout.write(self.style.SUCCESS(f"\n  Studio: http://{url_host}:{port}/   sign in as {admin!r}"))
        self.stdout.write(f"  Data: {settings.STUDIO_DATA_DIR}   Ctrl-C stops everything.\n")
        self.stdout.flush()
        sys.exit(Launcher(processes, env=env).run())

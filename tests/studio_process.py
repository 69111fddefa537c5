"""Start the real studio (web server, Celery worker, scheduler) as `make run` does, for tests."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Wheels-only environment builds share one package cache across tests and runs (see tests/conftest.py).
SHARED_PACKAGES = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "studio-test-packages"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "e2e-Admin-password-1"


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2):
    """The first truthy value of predicate(), polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ExternalDatabase:
    """A fresh PostgreSQL database for one studio when DATABASE_URL points at PostgreSQL."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.name = f"studio_e2e_{uuid.uuid4().hex[:10]}"
        self.created = False

    @property
    def url(self) -> str:
        return self.base_url.rsplit("/", 1)[0] + "/" + self.name

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.base_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self._admin(f'CREATE DATABASE "{self.name}"')
        self.created = True

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class StudioProcess:
    """`manage.py runstudio` in its own process group, with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        extra_env: dict | None = None,
        port: int | None = None,
        args: tuple[str, ...] = (),
        command: list[str] | None = None,
    ):
        """`command` replaces `manage.py runstudio` (e.g. ["make", "run"]); None in extra_env unsets."""
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.command = command
        self.database = None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))}
        env.update(
            {
                "STUDIO_DATA_DIR": str(self.data_dir),
                "STUDIO_SHARED_PACKAGE_CACHE": str(SHARED_PACKAGES),
                "STUDIO_ADMIN_USER": ADMIN_USER,
                "STUDIO_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "PORT": str(self.port),
                "PYTHONUNBUFFERED": "1",
                # One web process per test studio (many run side by side); tests of several set it.
                "STUDIO_WEB_WORKERS": "1",
            }
        )
        if env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
            self.database = ExternalDatabase(env["DATABASE_URL"])
            env["DATABASE_URL"] = self.database.url
        if env.get("CELERY_BROKER_URL", "").startswith("redis://"):
            # A database number of its own, so no other studio's worker takes these messages.
            env["CELERY_BROKER_URL"] = env["CELERY_BROKER_URL"].rsplit("/", 1)[0] + "/" + str(self.port % 15 + 1)
        env.update(extra_env or {})
        self.env = {k: v for k, v in env.items() if v is not None}
        self.log_path = self.data_dir / "studio.log"
        self.proc: subprocess.Popen | None = None
        self._health_token: str | None = None

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    def start(self, timeout: float = 120) -> "StudioProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.database and not self.database.created:
            self.database.create()
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            self.command or [sys.executable, "manage.py", "runstudio", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"The studio exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                response = httpx.get(self.url + "/healthz", timeout=2)
                if response.status_code == 200:
                    return response.json()
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise TimeoutError(f"The studio did not become healthy: {last}\n{self.log_path.read_text()[-4000:]}")

    def health(self) -> httpx.Response:
        """/healthz with the state of each part: only a signed-in caller sees more than the status."""
        if self._health_token is None:
            self._health_token = self.token()
        return httpx.get(self.url + "/healthz", headers={"Authorization": f"Bearer {self._health_token}"}, timeout=10)

    def wait_for_worker(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health().json()["workers"]["alive"]:
                return
            time.sleep(0.5)
        raise TimeoutError("No worker reported in.")

    def stop(self) -> int | None:
        if not self.proc:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Anything the launcher left behind in its group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = self.proc.returncode
        self.proc = None
        return code

    def close(self) -> None:
        self.stop()
        if self.database:
            self.database.drop()

    def token(self, username: str = ADMIN_USER) -> str:
        return self.manage("api_token", username).strip()

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token or self.token()}"}, timeout=60)

"""User code against the studio and its other tenants (SECURITY 26-31, 41): each test is a real job on
a real node of the shared studio, trying an attack a hostile member tried on round one, and
asserting it failed. Two workspaces: `my-workspace` (the admin's) and a second tenant's.
"""

import re
import subprocess
import textwrap
import time
import uuid

import httpx
import pytest

from core import sandbox
from tests.jobs.support import zip_bytes
from tests.studio_process import wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sandbox.status().isolated, reason="needs bubblewrap (make test installs it)"),
]

HOME = "my-workspace"
TENANT = "tenant-b"
ENV = "environment:\n  image: library/python:latest\n"


class Workspace:
    def __init__(self, http: httpx.Client, name: str):
        self.http = http
        self.name = name
        self.base = f"/api/v1/workspaces/{name}"

    def submit(self, spec: str, *, compute: str = "attacks") -> str:
        response = self.http.post(f"{self.base}/jobs", json={"spec": spec + f"compute: azureml:{compute}\n"})
        assert response.status_code == 201, response.text
        return response.json()["name"]

    def get(self, name: str) -> dict:
        return self.http.get(f"{self.base}/jobs/{name}").raise_for_status().json()

    def wait(self, name: str, statuses=("Completed", "Failed", "Canceled"), timeout: float = 120) -> dict:
        return wait_for(
            lambda: (job := self.get(name))["status"] in statuses and job, timeout=timeout, what=f"{name} {statuses}"
        )

    def upload(self, datastore: str, folder: str, name: str, content: bytes) -> httpx.Response:
        return self.http.post(
            f"{self.base}/datastores/{datastore}/files", data={"path": folder}, files={"files": (name, content)}
        )

    def log(self, name: str) -> str:
        return self.http.get(f"{self.base}/jobs/{name}/log").raise_for_status().text

    def run(self, script: str, *, extra: str = "", compute: str = "attacks") -> tuple[dict, str]:
        """Run a Python script as a job; (the finished job, its log)."""
        body = textwrap.indent(textwrap.dedent(script).strip() + "\n", "  ")
        name = self.submit(f"command: |\n  python - <<'PYTHON'\n{body}  PYTHON\n{extra}{ENV}", compute=compute)
        job = self.wait(name)
        return job, self.log(name)

    def cluster(self, name: str, *, min_instances: int = 1, max_instances: int = 2) -> None:
        body = {"name": name, "min_instances": min_instances, "max_instances": max_instances}
        response = self.http.post(f"{self.base}/computes", json=body)
        assert response.status_code in (201, 409), response.text


@pytest.fixture(scope="module")
def tenants(studio, admin_api):
    home = Workspace(admin_api, HOME)
    response = admin_api.post("/api/v1/workspaces", json={"name": TENANT})
    assert response.status_code in (201, 409), response.text
    tenant = Workspace(admin_api, TENANT)
    for workspace in (home, tenant):
        workspace.cluster("attacks")
    return home, tenant


def probe_script(probes: dict[str, str]) -> str:
    """A script that runs each probe (an expression) and prints `name: OK <result>`, or
    `name: <error> <errno or HTTP status>`."""
    lines = ["import http.client, json, os, socket, urllib.request"]
    for name, expression in probes.items():
        lines += [
            "try:",
            f"    result = {expression}",
            f"    print({name!r} + ': OK', repr(result)[:200])",
            "except Exception as exc:",
            f"    print({name!r} + ':', type(exc).__name__, getattr(exc, 'code', getattr(exc, 'errno', '')))",
        ]
    return "\n".join(lines)


def outcomes(log: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+): (.*)$", log, re.M))


def web_server_pid(studio) -> int:
    found = subprocess.run(["pgrep", "-f", f"uvicorn.*--port {studio.port}"], capture_output=True, text=True)
    return int(found.stdout.split()[0])


def test_a_job_sees_nothing_of_the_host_the_database_the_key_or_another_workspace(studio, tenants):
    """SECURITY 26."""
    home, tenant = tenants
    data = studio.data_dir
    other_storage = next(p for p in (data / "storage").iterdir() if TENANT.replace("-", "") in p.name)
    job, log = home.run(
        probe_script(
            {
                "database": f"open({str(data / 'studio.sqlite3')!r}, 'rb').read(16)",
                "key": f"open({str(data / 'secret_key')!r}).read()",
                "data_dir": f"os.listdir({str(data)!r})",
                "other_workspace": f"os.listdir({str(other_storage)!r})",
                "web_environ": f"open('/proc/{web_server_pid(studio)}/environ', 'rb').read()",
                "host_init": "open('/proc/1/environ', 'rb').read()",
                "processes": "sorted(int(p) for p in os.listdir('/proc') if p.isdigit())",
            }
        )
    )
    assert job["status"] == "Completed", log
    seen = outcomes(log)
    for name in ("database", "key", "other_workspace", "web_environ"):
        assert seen[name].startswith("FileNotFoundError"), (name, seen[name])
    # The data directory's path exists only as the empty parents of the job's own folders.
    assert seen["data_dir"] in ("OK ['nodes', 'registry']", "OK ['registry', 'nodes']"), seen["data_dir"]
    assert seen["host_init"].startswith("PermissionError")  # the sandbox's own first process, root's
    assert len(eval(seen["processes"].split(" ", 1)[1])) < 8  # noqa: S307 - a list of ints the job printed
    assert "STUDIO_ADMIN_PASSWORD" not in log and studio.env["STUDIO_ADMIN_PASSWORD"] not in log


def test_a_job_cannot_change_its_environment_for_the_next_job_of_any_workspace(tenants):
    """SECURITY 27: a `.pth` file dropped into a curated (shared) environment."""
    home, tenant = tenants
    curated = "environment: azureml:AzureML-minimal-py311@latest\n"
    plant = (
        "import site, os\n"
        "target = os.path.join(site.getsitepackages()[0], 'zz_pwned.pth')\n"
        "try:\n"
        "    open(target, 'w').write('import os; print(\"PWNED\", os.environ.get(\"MLFLOW_TRACKING_TOKEN\"))')\n"
        "    print('planted: OK')\n"
        "except OSError as exc:\n"
        "    print('planted:', type(exc).__name__, exc.errno)\n"
    )
    body = textwrap.indent(plant, "  ")
    name = home.submit(f"command: |\n  python - <<'PYTHON'\n{body}  PYTHON\n{curated}")
    assert home.wait(name, timeout=300)["status"] == "Completed"
    assert "planted: OSError 30" in home.log(name)  # EROFS
    victim = tenant.submit(f"command: python -c 'print(\"victim ran\")'\n{curated}")
    assert tenant.wait(victim, timeout=300)["status"] == "Completed"
    log = tenant.log(victim)
    assert "victim ran" in log and "PWNED" not in log


def test_a_ro_mount_input_is_read_only_and_the_data_asset_keeps_its_files(studio, tenants):
    """SECURITY 28."""
    home, _ = tenants
    folder = f"attack-data-{uuid.uuid4().hex[:8]}"
    upload = home.upload("workspaceblobstore", folder, "rows.csv", b"a,b\n1,2\n")
    assert upload.status_code == 201, upload.text
    asset = home.http.post(
        f"{home.base}/data",
        json={"name": folder, "type": "uri_folder", "path": f"azureml://datastores/workspaceblobstore/paths/{folder}/"},
    )
    assert asset.status_code == 201, asset.text
    inputs = f"inputs:\n  data:\n    type: uri_folder\n    path: azureml:{folder}@latest\n    mode: ro_mount\n"
    script = probe_script(
        {
            "read": "open(os.environ['DATA'] + '/rows.csv').read()",
            "overwrite": "open(os.environ['DATA'] + '/rows.csv', 'w').write('owned')",
            "create": "open(os.environ['DATA'] + '/new.csv', 'w').write('owned')",
            "delete": "os.remove(os.environ['DATA'] + '/rows.csv')",
        }
    )
    body = textwrap.indent(script + "\n", "  ")
    name = home.submit(f"command: |\n  DATA=${{{{inputs.data}}}} python - <<'PYTHON'\n{body}  PYTHON\n{inputs}{ENV}")
    job = home.wait(name)
    log = home.log(name)
    assert job["status"] == "Completed", log
    seen = outcomes(log)
    assert seen["read"] == "OK 'a,b\\n1,2\\n'"
    assert seen["overwrite"] == "OSError 30" and seen["create"] == "OSError 30" and seen["delete"] == "OSError 30"
    content = home.http.get(f"{home.base}/data/{folder}/versions/1/files")
    assert [f["path"] for f in content.raise_for_status().json()] == ["rows.csv"]
    stored = home.http.get(
        f"{home.base}/datastores/workspaceblobstore/files/content", params={"path": f"{folder}/rows.csv"}
    )
    assert stored.content == b"a,b\n1,2\n"


def test_nothing_a_job_started_runs_after_it_ended(tenants):
    """SECURITY 29."""
    home, _ = tenants
    marker = f"{uuid.uuid4().int % 10**6}.5"
    name = home.submit(
        f"command: (setsid nohup sleep {marker} >/dev/null 2>&1 &); nohup sleep {marker} >/dev/null 2>&1 & echo left\n{ENV}",
        compute="attacks",
    )
    assert home.wait(name)["status"] == "Completed"
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).stdout == b""


def api_probe(method: str, path: str, body: dict | None = None) -> str:
    """An expression calling the studio's REST API with the job's own token: the status code."""
    data = "None" if body is None else f"json.dumps({body!r}).encode()"
    return (
        "(lambda r: r.status)(urllib.request.urlopen(urllib.request.Request("
        f"os.environ['MLFLOW_TRACKING_URI'].split('/mlflow/')[0] + {path!r}, data={data}, method={method!r}, "
        "headers={'Authorization': 'Bearer ' + os.environ['MLFLOW_TRACKING_TOKEN'], "
        "'Content-Type': 'application/json'})))"
    )


def test_a_jobs_token_reaches_its_own_run_and_its_workspaces_data_only(tenants, admin_api):
    """SECURITY 30: the token of an Owner's job can't change members, settings, tokens, compute or
    another job; it still logs to its own run and reads its workspace's data."""
    home, _ = tenants
    user = f"mallory{uuid.uuid4().hex[:6]}"
    admin_api.post("/api/v1/users", json={"username": user, "password": "a-Strong-password-42"}).raise_for_status()
    admin_api.post(f"{home.base}/members", json={"username": user, "role": "reader"}).raise_for_status()
    other = home.submit(f"command: sleep 60\n{ENV}", compute="attacks")
    run_id_probe = "os.environ['MLFLOW_RUN_ID']"
    job, log = home.run(
        probe_script(
            {
                "promote_member": api_probe("PATCH", f"{home.base}/members/{user}", {"role": "owner"}),
                "add_member": api_probe("POST", f"{home.base}/members", {"username": user, "role": "owner"}),
                "settings": api_probe("PATCH", home.base, {"description": "owned"}),
                "new_token": api_probe("POST", "/api/v1/tokens", {"name": "stolen"}),
                "new_compute": api_probe("POST", f"{home.base}/computes", {"name": "stolen"}),
                "cancel_other": api_probe("POST", f"{home.base}/jobs/{other}/cancel"),
                "read_other": api_probe("GET", f"{home.base}/jobs/{other}"),
                "submit": api_probe("POST", f"{home.base}/jobs", {"spec": "command: echo hi\n" + ENV}),
                "own_run": api_probe(
                    "POST",
                    f"/mlflow/v1.0/workspaces/{home.name}/api/2.0/mlflow/runs/log-metric",
                    {"run_id": "RUN", "key": "loss", "value": 0.5, "timestamp": 0, "step": 0},
                ).replace("'RUN'", run_id_probe),
                "data": api_probe("GET", f"{home.base}/datastores/workspaceblobstore/files"),
            }
        )
    )
    assert job["status"] == "Completed", log
    seen = outcomes(log)
    refused = (
        "promote_member",
        "add_member",
        "settings",
        "new_token",
        "new_compute",
        "cancel_other",
        "read_other",
        "submit",
    )
    for name in refused:
        assert seen[name] == "HTTPError 403", (name, seen[name])
    assert seen["own_run"] == "OK 200" and seen["data"] == "OK 200"
    assert admin_api.get(f"{home.base}/members/{user}").json()["role"] == "reader"
    assert home.get(other)["status"] not in ("CancelRequested", "Canceled")
    home.http.post(f"{home.base}/jobs/{other}/cancel")


def test_a_queued_jobs_snapshot_cannot_be_rewritten_and_a_changed_one_never_runs(studio, tenants, admin_api):
    """SECURITY 31: through the datastore routes (refused), or on the disk (the digest check)."""
    home, _ = tenants
    home.cluster("single", min_instances=1, max_instances=1)
    blocker = home.submit(f"command: sleep 30\n{ENV}", compute="single")
    wait_for(lambda: home.get(blocker)["status"] == "Running", timeout=120, what="the blocker to run")
    code = {"code": ("code.zip", zip_bytes({"main.sh": b"echo honest\n"}), "application/zip")}
    spec = f"command: bash main.sh\ncode: .\n{ENV}compute: azureml:single\n"
    response = home.http.post(f"{home.base}/jobs", data={"spec": spec}, files=code)
    assert response.status_code == 201, response.text
    target = response.json()["name"]
    snapshot = f"ExperimentRun/dcid.{target}/code"
    rewrite = home.upload("workspaceartifactstore", snapshot, "main.sh", b"echo evil\n")
    assert rewrite.status_code == 403, rewrite.text
    delete = home.http.delete(
        f"{home.base}/datastores/workspaceartifactstore/files", params={"path": f"{snapshot}/main.sh"}
    )
    assert delete.status_code == 403, delete.text
    # Changed by other means (on the storage account itself): the node refuses to run it.
    (on_disk,) = list((studio.data_dir / "storage").glob(f"*/azureml/{snapshot}/main.sh"))
    on_disk.write_text("echo evil\n")
    home.http.post(f"{home.base}/jobs/{blocker}/cancel")
    job = home.wait(target)
    assert job["status"] == "Failed"
    assert "changed after the job was submitted" in job["status_reason"]
    assert "evil" not in home.log(target)


def test_a_job_reaches_the_studio_but_not_the_database_broker_or_another_tenants_server(studio, tenants):
    """SECURITY 41."""
    home, tenant = tenants
    port = 8765
    listener = tenant.submit(
        f"command: python -m http.server {port} --bind 127.0.0.1 & sleep 40\n{ENV}", compute="attacks"
    )
    wait_for(lambda: tenant.get(listener)["status"] == "Running", timeout=120, what="the tenant's server")
    time.sleep(1)
    # Straight to the sandbox's proxy, as a client that ignores NO_PROXY would: its answer's status.
    proxy = (
        "(lambda c, url: (c.request('GET', url), c.getresponse().status)[1])"
        "(http.client.HTTPConnection('127.0.0.1', int(os.environ['HTTP_PROXY'].rsplit(':', 1)[1]), timeout=5), {!r})"
    )
    job, log = home.run(
        probe_script(
            {
                "postgres": "socket.create_connection(('127.0.0.1', 5432), timeout=3).close()",
                "redis": "socket.create_connection(('127.0.0.1', 6379), timeout=3).close()",
                "rabbitmq": "socket.create_connection(('127.0.0.1', 5672), timeout=3).close()",
                "tenant_server": f"socket.create_connection(('127.0.0.1', {port}), timeout=3).close()",
                "via_proxy": proxy.format("http://127.0.0.1:6379/"),
                "host_address": proxy.format("http://169.254.169.254/latest/meta-data/"),
                "studio": api_probe("GET", f"{home.base}/datastores/workspaceblobstore/files"),
            }
        )
    )
    tenant.http.post(f"{tenant.base}/jobs/{listener}/cancel")
    assert job["status"] == "Completed", log
    seen = outcomes(log)
    for name in ("postgres", "redis", "rabbitmq", "tenant_server"):
        assert seen[name] == "ConnectionRefusedError 111", (name, seen[name])
    assert seen["via_proxy"] == "OK 403" and seen["host_address"] == "OK 403"
    assert seen["studio"] == "OK 200"


def test_the_studio_process_environment_holds_no_admin_password_for_jobs(studio, tenants):
    home, _ = tenants
    secrets = ("STUDIO_ADMIN_PASSWORD", "SECRET_KEY", "STUDIO_ENCRYPTION_KEY", "DATABASE_URL", "CELERY_BROKER_URL")
    job, log = home.run(
        probe_script(
            {
                "token": "'MLFLOW_TRACKING_TOKEN' in os.environ",
                "studio_settings": f"[n for n in os.environ if n.startswith('STUDIO_') or n in {secrets!r}]",
            }
        )
    )
    seen = outcomes(log)
    assert (seen["token"], seen["studio_settings"]) == ("OK True", "OK []")

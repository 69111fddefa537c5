"""Benchmark: the studio's MLflow tracking server against `mlflow server`, with the real client.

Both servers run on this machine: `mlflow server` (the installed mlflow, SQLite backend, default
settings, its own temporary directory) and the studio (`manage.py runstudio`, embedded SQLite, its
own temporary data directory). For each, the real `MlflowClient` measures:

- single `log_metric` calls per second (target: studio >= 10x mlflow),
- `log_batch` metrics per second, 1,000 metrics per call (target: studio >= 5x mlflow),
- `get_metric_history` of 100,000 points (target: studio <= 0.25 s).

The client itself parses every page with protobuf's ParseDict, which takes about a second for
100,000 points whatever the server; so the history figure is also given as the server's own
delivery time (the same paged GETs, raw over HTTP) and as the client-side parse floor (the
client's parsing of those exact responses, with no network), to show where the time goes. Likewise the single-call and batch figures are followed by the client's own
ceiling: `log_metric` against a server that answers at once and does nothing.

    .venv/bin/python bench/tracking.py
    .venv/bin/python bench/tracking.py --single-seconds 5 --batches 20 --history 100000 --rounds 3

Both servers are started first and measured in alternating rounds; the best of each figure counts,
since a busy machine only ever slows a figure down.
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.studio_process import StudioProcess, free_port  # noqa: E402

WORKSPACE = "my-workspace"
PAGE = 25000  # what the client asks for (mlflow.store.tracking.GET_METRIC_HISTORY_MAX_RESULTS)


class MlflowServer:
    """`mlflow server` with a SQLite backend in a temporary directory."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout: float = 300) -> "MlflowServer":
        mlflow = Path(sys.executable).with_name("mlflow")
        log = open(self.directory / "mlflow.log", "ab")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            [
                str(mlflow),
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.directory / 'mlflow.db'}",
                "--default-artifact-root",
                str(self.directory / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.directory / "mlflow.log").read_text()[-3000:])
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError("mlflow server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)


NULL_SERVER = """
import http.server, sys
class Null(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.wfile.write(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\n\\r\\n{}")
    do_GET = do_POST = _answer
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Null).serve_forever()
"""


def client_floor(seconds: float, batches: int) -> tuple[float, float]:
    """Single `log_metric` calls per second and `log_batch` metrics per second against a server
    that answers `{}` at once and does nothing: what the client itself allows on this machine."""
    from mlflow import MlflowClient

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(port)], start_new_session=True)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
        return single_rate(client, "0" * 32, seconds), batch_rate(client, "0" * 32, batches)
    finally:
        proc.kill()
        proc.wait()


def single_rate(client, run_id: str, seconds: float) -> float:
    """Sequential `log_metric` calls per second over about `seconds`."""
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < seconds:
        client.log_metric(run_id, "single", float(calls), step=calls)
        calls += 1
    return calls / (time.perf_counter() - start)


def batch_rate(client, run_id: str, batches: int, key: str = "batch", offset: int = 0) -> float:
    """Metrics per second logged with `log_batch`, 1,000 per call."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    start = time.perf_counter()
    for b in range(batches):
        base = offset + b * 1000
        client.log_batch(
            run_id, metrics=[Metric(key, float(i) * 0.5, now + i, base + i) for i in range(base, base + 1000)]
        )
    return batches * 1000 / (time.perf_counter() - start)


def raw_history(base_url: str, headers: dict, run_id: str, key: str) -> tuple[float, list[bytes]]:
    """The paged GETs the client makes, over raw HTTP: (seconds, response bodies)."""
    bodies = []
    token = None
    with httpx.Client(headers=headers, timeout=120) as http:
        start = time.perf_counter()
        while True:
            params = {"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": PAGE}
            if token:
                params["page_token"] = token
            response = http.get(base_url + "/api/2.0/mlflow/metrics/get-history", params=params)
            response.raise_for_status()
            bodies.append(response.content)
            token = response.json().get("next_page_token")
            if not token:
                break
        return time.perf_counter() - start, bodies


def parse_floor(bodies: list[bytes]) -> float:
    """The client's own work on the history responses: json, ParseDict, Metric.from_proto."""
    from mlflow.entities import Metric
    from mlflow.protos.service_pb2 import GetMetricHistory
    from mlflow.utils.proto_json_utils import parse_dict

    start = time.perf_counter()
    for body in bodies:
        proto = GetMetricHistory.Response()
        parse_dict(json.loads(body), proto)
        [Metric.from_proto(metric) for metric in proto.metrics]
    return time.perf_counter() - start


class Target:
    """One server as the client sees it: a tracking URI, its auth, and runs to log to."""

    def __init__(self, name: str, uri: str, token: str | None):
        from mlflow import MlflowClient

        self.name, self.uri, self.token = name, uri, token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        with self.auth():
            self.client = MlflowClient(tracking_uri=uri)
            self.experiment_id = self.client.create_experiment(f"bench-{time.time_ns()}")
            self.run_id = self.client.create_run(self.experiment_id).info.run_id
            self.client.log_metric(self.run_id, "warmup", 1.0)
        self.history_run = None

    @contextlib.contextmanager
    def auth(self):
        """MLFLOW_TRACKING_TOKEN for this server only (the client reads it on every call)."""
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        if self.token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.token
        try:
            yield
        finally:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)


def measure_round(target: Target, args, round_no: int) -> dict:
    """One round of every figure for one server."""
    client, run_id = target.client, target.run_id
    with target.auth():
        figures = {"single_per_s": single_rate(client, run_id, args.single_seconds)}
        figures["batch_per_s"] = batch_rate(client, run_id, args.batches, offset=round_no * args.batches * 1000)
        if target.history_run is None:
            target.history_run = client.create_run(target.experiment_id).info.run_id
            batch_rate(client, target.history_run, args.history // 1000, key="history")
        start = time.perf_counter()
        points = client.get_metric_history(target.history_run, "history")
        figures["history_client_s"] = time.perf_counter() - start
    assert len(points) == args.history, (target.name, len(points))
    figures["history_raw_s"], bodies = raw_history(target.uri, target.headers, target.history_run, "history")
    figures["history_parse_s"] = parse_floor(bodies)
    return figures


def best(rounds: list[dict]) -> dict:
    """The best of each figure over the rounds (the machine's noise only ever makes things slower)."""
    return {key: (max if key.endswith("_per_s") else min)(figures[key] for figures in rounds) for key in rounds[0]}


def report(mlflow: dict, studio: dict) -> None:
    rows = [
        ("single log_metric calls/s", "single_per_s", "higher", 10),
        ("log_batch metrics/s (1000/call)", "batch_per_s", "higher", 5),
        ("get_metric_history, client (s)", "history_client_s", "lower", None),
        ("  server delivery, raw GETs (s)", "history_raw_s", "lower", None),
        ("  client parse floor (s)", "history_parse_s", "lower", None),
    ]
    print(f"\n{'':36} {'mlflow server':>14} {'studio':>14} {'ratio':>9}  target")
    for label, key, better, target in rows:
        a, b = mlflow[key], studio[key]
        ratio = b / a if better == "higher" else a / b
        goal = f">= {target}x" if target else ("<= 0.25 s" if key == "history_client_s" else "")
        print(f"{label:36} {a:14.3f} {b:14.3f} {ratio:8.1f}x  {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single-seconds", type=float, default=5.0, help="how long to time single log_metric calls")
    parser.add_argument("--batches", type=int, default=20, help="log_batch calls of 1,000 metrics to time")
    parser.add_argument("--history", type=int, default=100_000, help="points read back with get_metric_history")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each figure counts")
    parser.add_argument("--only", choices=("mlflow", "studio"), help="measure one server only")
    args = parser.parse_args()
    args.history = max(1000, args.history // 1000 * 1000)

    workdir = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    (workdir / "mlflow").mkdir()
    server = studio = None
    try:
        # Both servers run side by side and the rounds alternate, so a busy machine slows both alike.
        targets = []
        if args.only in (None, "mlflow"):
            server = MlflowServer(workdir / "mlflow").start()
            targets.append(Target("mlflow", server.url, None))
        if args.only in (None, "studio"):
            studio = StudioProcess(workdir / "studio", args=("--no-worker",)).start()
            uri = f"{studio.url}/mlflow/v1.0/workspaces/{WORKSPACE}"
            targets.append(Target("studio", uri, studio.token()))
        rounds = {target.name: [] for target in targets}
        for round_no in range(args.rounds):
            for target in targets:
                figures = measure_round(target, args, round_no)
                rounds[target.name].append(figures)
                print(f"round {round_no + 1} {target.name}:", {k: round(v, 3) for k, v in figures.items()}, flush=True)
        results = {name: best(figures) for name, figures in rounds.items()}
        if len(results) == 2:
            report(results["mlflow"], results["studio"])
            single, batch = client_floor(args.single_seconds, args.batches)
            print("\nthe client's own ceiling, against a server that answers at once and does nothing:")
            print(f"  {single:.0f} single log_metric calls/s, {batch:.0f} log_batch metrics/s")
    finally:
        if server:
            server.stop()
        if studio:
            studio.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

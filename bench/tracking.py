"""Benchmark: the studio's MLflow tracking server against the mlflow client's own ceiling.

In one run this starts the studio (`manage.py runstudio --no-worker`, embedded SQLite, its own
temporary data directory) and a "null" tracking server that answers every MLflow REST call at once
with `{}` and stores nothing: what the client itself allows on this machine. The real
`MlflowClient` measures against each, in interleaved slices (null, studio, null, ...):

- single `log_metric` calls per second (target: studio >= 0.8x the null server's),
- `log_batch` metrics per second, 1,000 metrics per call (target: studio >= 0.9x the null server's),
- a 100,000-point metric history read over raw HTTP, the paged `metrics/get-history` GETs the
  client makes (target: <= 0.25 s), and the same through the client's `get_metric_history`, whose
  own protobuf parsing (given as the parse floor) takes about a second whatever the server.

With `--mlflow-server`, `mlflow server` (the installed mlflow, SQLite backend) is measured too, for
reference.

    .venv/bin/python bench/tracking.py
    .venv/bin/python bench/tracking.py --single-seconds 5 --batches 20 --history 100000 --rounds 3

The best of each figure counts (a busy machine only ever slows a figure down); the ratios to the
null server, measured in the same rounds, are what the targets are about. On a machine busy with
other work the wall-clock rates swing with its load, so the rates are also given per CPU second
used by the client and the server together (this process and the server's process group, from
/proc): a call costs the same CPU however busy the machine is, and on an idle machine the client
and the server take turns, so that ratio is the one an idle machine shows.
"""

import argparse
import contextlib
import json
import os
import shutil
import statistics
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
import asyncio, re, socket, sys

# Every MLflow REST call answered at once with an empty JSON object; nothing is stored, nothing
# but the request's length is parsed.
ANSWER = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\n\\r\\n{}"
LENGTH = re.compile(rb"\\r\\ncontent-length:[ \\t]*(\\d+)", re.IGNORECASE)


class Null(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\\r\\n\\r\\n")) >= 0:
            length = LENGTH.search(self.buffer, 0, end + 2)
            total = end + 4 + (int(length[1]) if length else 0)
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(ANSWER)


async def main():
    server = await asyncio.get_running_loop().create_server(Null, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()


asyncio.run(main())
"""


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def cpu_now(target) -> float:
    """The client's CPU seconds (this process) plus the target server's."""
    return time.process_time() + group_cpu_seconds(target.pgid)


class NullServer:
    """The null tracking server (NULL_SERVER) in its own process."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> "NullServer":
        self.proc = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(self.port)], start_new_session=True)
        for _ in range(100):
            try:
                httpx.get(self.url + "/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError("the null server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def single_calls(client, run_id: str, seconds: float, first_step: int) -> tuple[int, float]:
    """Sequential `log_metric` calls for about `seconds`: (calls, seconds taken)."""
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < seconds:
        client.log_metric(run_id, "single", float(calls), step=first_step + calls)
        calls += 1
    return calls, time.perf_counter() - start


def batch_calls(client, run_id: str, batches: int, first_step: int, key: str = "batch") -> tuple[int, float]:
    """`log_batch` calls of 1,000 metrics each: (metrics logged, seconds taken)."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    start = time.perf_counter()
    for b in range(batches):
        base = first_step + b * 1000
        client.log_batch(
            run_id, metrics=[Metric(key, float(i) * 0.5, now + i, base + i) for i in range(base, base + 1000)]
        )
    return batches * 1000, time.perf_counter() - start


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

    def __init__(self, name: str, uri: str, token: str | None, *, pgid: int, stores: bool = True):
        from mlflow import MlflowClient

        self.name, self.uri, self.token, self.stores, self.pgid = name, uri, token, stores, pgid
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        with self.auth():
            self.client = MlflowClient(tracking_uri=uri)
            if stores:
                self.experiment_id = self.client.create_experiment(f"bench-{time.time_ns()}")
                self.run_id = self.client.create_run(self.experiment_id).info.run_id
            else:  # the null server makes nothing: any run id is accepted
                self.experiment_id, self.run_id = "0", "0" * 32
            self.client.log_metric(self.run_id, "warmup", 1.0)
        self.history_run = None
        self.steps = {"single": 0, "batch": 0}

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


def measure_logging(targets: list[Target], args) -> dict:
    """Single-call and batch rates of every target, in interleaved slices (null, studio, null,
    studio, ...): a load that comes and goes on the machine falls on every target alike, so the
    ratios hold even when the rates themselves don't."""
    keys = ("single_per_s", "batch_per_s", "single_cpu_per_s", "batch_cpu_per_s")
    totals = {target.name: {key: [0, 0.0] for key in keys} for target in targets}
    for _ in range(args.slices):
        for target in targets:
            with target.auth():
                cpu = cpu_now(target)
                count, seconds = single_calls(
                    target.client, target.run_id, args.single_seconds / args.slices, target.steps["single"]
                )
                target.steps["single"] += count
                _add(totals[target.name], "single", count, seconds, cpu_now(target) - cpu)
                batches = max(1, args.batches // args.slices)
                cpu = cpu_now(target)
                count, seconds = batch_calls(target.client, target.run_id, batches, target.steps["batch"])
                target.steps["batch"] += count
                _add(totals[target.name], "batch", count, seconds, cpu_now(target) - cpu)
    return {
        name: {key: count / seconds for key, (count, seconds) in figures.items()} for name, figures in totals.items()
    }


def _add(totals: dict, what: str, count: int, seconds: float, cpu: float) -> None:
    totals[what + "_per_s"][0] += count
    totals[what + "_per_s"][1] += seconds
    totals[what + "_cpu_per_s"][0] += count
    totals[what + "_cpu_per_s"][1] += cpu


def measure_history(target: Target, args) -> dict:
    """A 100,000-point history read back: over raw HTTP, and through the client."""
    with target.auth():
        if target.history_run is None:
            target.history_run = target.client.create_run(target.experiment_id).info.run_id
            batch_calls(target.client, target.history_run, args.history // 1000, 0, key="history")
        start = time.perf_counter()
        points = target.client.get_metric_history(target.history_run, "history")
        figures = {"history_client_s": time.perf_counter() - start}
    assert len(points) == args.history, (target.name, len(points))
    figures["history_raw_s"], bodies = raw_history(target.uri, target.headers, target.history_run, "history")
    figures["history_parse_s"] = parse_floor(bodies)
    return figures


def best(rounds: list[dict]) -> dict:
    """The best of each figure over the rounds (the machine's noise only ever makes things slower)."""
    return {key: (max if key.endswith("_per_s") else min)(figures[key] for figures in rounds) for key in rounds[0]}


def report(results: dict, ratios: dict) -> None:
    """Each server's best figures, and the studio's ratio to the null server (the client's
    ceiling): the median of the rounds' ratios."""
    names = [name for name in ("null", "studio", "mlflow") if name in results]
    rows = [
        ("single log_metric calls/s", "single_per_s", ">= 0.8x null"),
        ("log_batch metrics/s (1000/call)", "batch_per_s", ">= 0.9x null"),
        ("single calls per CPU second", "single_cpu_per_s", ">= 0.8x null"),
        ("batch metrics per CPU second", "batch_cpu_per_s", ">= 0.9x null"),
        ("history 100k, raw GETs (s)", "history_raw_s", "<= 0.25 s"),
        ("history 100k, client (s)", "history_client_s", ""),
        ("  client parse floor (s)", "history_parse_s", ""),
    ]
    print(f"\n{'':34}" + "".join(f"{name:>12}" for name in names) + f"{'studio/null':>13}  target")
    for label, key, goal in rows:
        cells = "".join(f"{results[n][key]:12.3f}" if key in results[n] else f"{'':12}" for n in names)
        ratio = ""
        if key in ratios:
            ratio = f"{statistics.median(ratios[key]):12.2f}x"
        print(f"{label:34}{cells}{ratio:>13}  {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single-seconds", type=float, default=5.0, help="how long to time single log_metric calls")
    parser.add_argument("--batches", type=int, default=20, help="log_batch calls of 1,000 metrics to time")
    parser.add_argument("--history", type=int, default=100_000, help="points read back with get_metric_history")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best of each figure counts")
    parser.add_argument("--slices", type=int, default=5, help="interleaved slices per round")
    parser.add_argument("--mlflow-server", action="store_true", help="measure `mlflow server` too, for reference")
    args = parser.parse_args()
    args.history = max(1000, args.history // 1000 * 1000)

    workdir = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    (workdir / "mlflow").mkdir()
    null = server = studio = None
    try:
        # The servers run side by side and the rounds alternate, so a busy machine slows all alike.
        null = NullServer().start()
        targets = [Target("null", null.url, None, pgid=null.proc.pid, stores=False)]
        studio = StudioProcess(workdir / "studio", args=("--no-worker",)).start()
        uri = f"{studio.url}/mlflow/v1.0/workspaces/{WORKSPACE}"
        targets.append(Target("studio", uri, studio.token(), pgid=studio.proc.pid))
        if args.mlflow_server:
            server = MlflowServer(workdir / "mlflow").start()
            targets.append(Target("mlflow", server.url, None, pgid=server.proc.pid))
        rounds = {target.name: [] for target in targets}
        ratios = {"single_per_s": [], "batch_per_s": [], "single_cpu_per_s": [], "batch_cpu_per_s": []}
        for round_no in range(args.rounds):
            figures = measure_logging(targets, args)
            for target in targets:
                if target.stores:
                    figures[target.name].update(measure_history(target, args))
                rounds[target.name].append(figures[target.name])
                shown = {k: round(v, 3) for k, v in figures[target.name].items()}
                print(f"round {round_no + 1} {target.name}:", shown, flush=True)
            for key in ratios:
                ratios[key].append(figures["studio"][key] / figures["null"][key])
            print(f"round {round_no + 1} studio/null:", {k: round(v[-1], 3) for k, v in ratios.items()}, flush=True)
        report({name: best(figures) for name, figures in rounds.items()}, ratios)
    finally:
        for process in (null, server):
            if process:
                process.stop()
        if studio:
            studio.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

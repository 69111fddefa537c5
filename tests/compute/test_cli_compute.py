"""`studio compute` against the real studio: clusters from Azure ML YAML, their nodes started by the
node manager, update and delete (the node of a deleted cluster stops)."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

STUDIO_BIN = Path(sys.executable).parent / "studio"


@pytest.fixture(scope="module")
def token(studio):
    return studio.token()


@pytest.fixture
def cli(studio, token, tmp_path):
    def run(*args, stdin=subprocess.DEVNULL):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(STUDIO_URL=studio.url, STUDIO_TOKEN=token, STUDIO_WORKSPACE="my-workspace")
        return subprocess.run(
            [str(STUDIO_BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=stdin
        )

    return run


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def alive(pids: list[int]) -> list[int]:
    """The node processes (by the pids the studio reports) still running on this host."""
    running = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        if Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":  # not a zombie awaiting its parent
            running.append(pid)
    return running


def test_create_from_yaml_show_nodes_update_and_delete(cli, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    (tmp_path / "cluster.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        f"name: {name}\ntype: amlcompute\nsize: STANDARD_NC6s_v3\n"
        "min_instances: 1\nmax_instances: 2\nidle_time_before_scale_down: 60\n"
    )
    created = json.loads(ok(cli("compute", "create", "--file", "cluster.yml")))
    assert (created["name"], created["size"], created["min_instances"]) == (name, "STANDARD_NC6s_v3", 1)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nodes = json.loads(ok(cli("compute", "list-nodes", "-n", name)))
        if nodes and nodes[0]["node_state"] == "idle":
            break
        time.sleep(0.5)
    assert [n["node_state"] for n in nodes] == ["idle"]
    pids = [n["pid"] for n in nodes]
    assert alive(pids), "the node manager started no worker for the cluster"
    table = ok(cli("compute", "show", "-n", name, "-o", "table")).splitlines()
    assert table[0].split() == ["Name", "Type", "Size", "MinInstances", "MaxInstances", "Nodes", "Busy"]
    assert table[2].split() == [name, "amlcompute", "STANDARD_NC6s_v3", "1", "2", "1", "0"]

    updated = json.loads(ok(cli("compute", "update", "-n", name, "--max-instances", "4")))
    assert (updated["min_instances"], updated["max_instances"]) == (1, 4)
    assert name in ok(cli("compute", "list", "-o", "tsv"))

    refused = cli("compute", "delete", "-n", name)  # no terminal to ask on
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert ok(cli("compute", "delete", "-n", name, "--yes")) == ""
    assert cli("compute", "show", "-n", name).returncode == 1
    deadline = time.monotonic() + 30
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(pids), "the node of the deleted cluster is still running"


def test_bad_yaml_exits_1_naming_field_and_line(cli, tmp_path):
    (tmp_path / "cluster.yml").write_text("name: bad-one\ntype: amlcompute\nmin_instances: 3\nmax_instances: 2\n")
    result = cli("compute", "create", "--file", "cluster.yml")
    assert result.returncode == 1
    assert "min_instances" in result.stderr and "(line 3)" in result.stderr
    assert cli("compute", "show", "-n", "bad-one").returncode == 1


def test_create_from_flags_and_an_unsupported_type(cli):
    name = f"flags-{uuid.uuid4().hex[:6]}"
    created = json.loads(ok(cli("compute", "create", "-n", name, "--max-instances", "3")))
    assert (created["type"], created["min_instances"], created["max_instances"]) == ("amlcompute", 0, 3)
    result = cli("compute", "create", "-n", "ci-1", "--type", "computeinstance")
    assert result.returncode == 2 and "amlcompute" in result.stderr
    ok(cli("compute", "delete", "-n", name, "-y"))

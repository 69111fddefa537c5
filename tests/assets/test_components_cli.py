"""`studio component ...` against the real studio: create --file uploads the `code:` folder named
relative to the YAML and an inline environment's conda file, as `az ml component create -f`."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
STUDIO_BIN = Path(sys.executable).parent / "studio"

YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: {name}
display_name: Prepare data
inputs:
  raw: {{type: uri_folder}}
  sample: {{type: number, default: 0.1, min: 0, max: 1}}
outputs:
  prepared: {{type: uri_folder}}
code: ../src
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
  conda_file: ./env/conda.yml
command: python prep.py --raw ${{{{inputs.raw}}}} --sample ${{{{inputs.sample}}}} --out ${{{{outputs.prepared}}}}
"""


@pytest.fixture(scope="module")
def token(studio):
    return studio.token()


@pytest.fixture
def cli(studio, token, tmp_path):
    def run(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(STUDIO_URL=studio.url, STUDIO_TOKEN=token, STUDIO_WORKSPACE="my-workspace")
        return subprocess.run(
            [str(STUDIO_BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    return run


def ok(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def project(tmp_path):
    def make(name: str, text: str = YAML) -> Path:
        (tmp_path / "components" / "env").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / "__pycache__").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / "prep.py").write_text("print('prep')\n")
        (tmp_path / "src" / "__pycache__" / "prep.cpython-311.pyc").write_bytes(b"\x00")
        (tmp_path / "components" / "env" / "conda.yml").write_text("dependencies:\n  - python=3.11\n")
        spec = tmp_path / "components" / "prep.yml"
        spec.write_text(text.format(name=name))
        return spec

    return make


def test_create_uploads_code_and_conda_then_list_show_archive(cli, project, studio, token):
    name = f"prep_{uuid.uuid4().hex[:6]}"
    created = ok(cli("component", "create", "--file", str(project(name))))
    assert (created["id"], created["display_name"]) == (f"azureml:{name}:1", "Prepare data")
    assert created["code"].endswith("/src/")
    assert created["spec"]["environment"]["conda_file"] == {"dependencies": ["python=3.11"]}
    files = ok(
        subprocess.run(
            [
                "curl",
                "-s",
                "-H",
                f"Authorization: Bearer {token}",
                f"{studio.url}/api/v1/workspaces/my-workspace/components/{name}/versions/1/files",
            ],
            capture_output=True,
            text=True,
        )
    )
    assert [f["path"] for f in files] == ["prep.py"]  # __pycache__ left out

    second = ok(cli("component", "create", "--file", str(project(name))))
    assert second["version"] == "2"
    assert [c["version"] for c in ok(cli("component", "list", "--name", name))] == ["2", "1"]
    table = cli("component", "list", "-o", "table")
    assert name in table.stdout and "Prepare data" in table.stdout
    assert ok(cli("component", "show", "-n", name, "--label", "latest"))["version"] == "2"
    assert ok(cli("component", "archive", "-n", name, "-v", "2"))["is_archived"] is True
    assert ok(cli("component", "show", "-n", name, "--label", "latest"))["version"] == "1"
    assert ok(cli("component", "restore", "-n", name, "-v", "2"))["is_archived"] is False


def test_bad_binding_exits_1_naming_command_and_line(cli, project):
    name = f"prep_{uuid.uuid4().hex[:6]}"
    spec = project(name, YAML.replace("${{{{inputs.sample}}}}", "${{{{inputs.fraction}}}}"))
    result = cli("component", "create", "--file", str(spec))
    assert result.returncode == 1
    assert "command: ${{inputs.fraction}} names no declared input" in result.stderr
    assert "(line 14)" in result.stderr
    assert cli("component", "show", "-n", name, "-v", "1").returncode == 1

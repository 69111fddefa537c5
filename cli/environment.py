"""`studio environment`: create environments from Azure ML YAML, list, show, archive, restore,
rebuild them and print or follow their build log."""

import sys
import time
from pathlib import Path

import yaml

from . import versioned
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import CliError, UsageError

COLUMNS = [
    ("Name", "name"),
    ("Version", "version"),
    ("BuildStatus", "build_status"),
    ("Image", "image"),
    ("CreatedAt", "created_at"),
]
POLL_SECONDS = 1.0


def _read_text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{option}: no such file: {path}")
    except UnicodeDecodeError:
        raise UsageError(f"{option}: {path} is not UTF-8 text.")


def _version_path(ctx: Context, name: str, version: str, *rest: str) -> str:
    return versioned.asset_path(ctx, "environments", name, "versions", version, *rest)


def create(ctx: Context):
    args = ctx.args
    body: dict = {"name": args.name or "", "version": args.version}
    if args.file:
        spec_path = Path(args.file)
        text = _read_text(spec_path, "--file")
        body["yaml"] = text
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError:
            raw = None  # the studio names the line
        conda = raw.get("conda_file") if isinstance(raw, dict) else None
        if isinstance(conda, str):
            # As `az ml environment create -f`: the conda file is relative to the YAML.
            body["conda_file"] = _read_text(spec_path.parent / conda, "conda_file")
    else:
        if not args.name:
            raise UsageError("give --file env.yml, or --name with --conda-file, --pip-requirements or --image.")
        body.update(description=args.description or "", image=args.image or "")
        if args.conda_file:
            body["conda_file"] = _read_text(Path(args.conda_file), "--conda-file")
        if args.pip_requirements:
            body["pip_requirements"] = _read_text(Path(args.pip_requirements), "--pip-requirements")
    return ctx.client.post(versioned.asset_path(ctx, "environments"), json=body)


def list_(ctx: Context):
    params = {}
    if ctx.args.registry_name:
        if ctx.args.registry_name.lower() != "azureml":
            raise UsageError("--registry-name: only the 'azureml' registry (the curated environments) exists here.")
        params["curated"] = "true"
    if ctx.args.include_archived:
        params["include_archived"] = "true"
    return ctx.client.get(versioned.asset_path(ctx, "environments"), params=params)


def _name_and_version(ctx: Context) -> tuple[str, str]:
    return ctx.args.name, versioned.version_of(ctx, "environments", "environment")


def show(ctx: Context):
    name, version = _name_and_version(ctx)
    return ctx.client.get(_version_path(ctx, name, version))


def rebuild(ctx: Context):
    return ctx.client.post(_version_path(ctx, *_name_and_version(ctx), "build"))


def build_log(ctx: Context):
    """Print the log from the start; with --follow (the default) keep printing until the build ends."""
    path = _version_path(ctx, ctx.args.name, ctx.args.version, "build-log")
    offset = 0
    while True:
        answer = ctx.client.get(path, params={"offset": offset})
        if answer["content"]:
            sys.stdout.write(answer["content"])
            sys.stdout.flush()
        offset = answer["next_offset"]
        if answer["finished"]:
            break
        if answer["next_offset"] == answer["offset"]:
            if not ctx.args.follow:
                break
            time.sleep(POLL_SECONDS)
    if answer["finished"] and answer["status"] == "Failed":
        raise CliError(f"The build of {ctx.args.name}:{ctx.args.version} failed: {answer['error']}")
    return None


def register(groups) -> None:
    commands = add_group(
        groups,
        "environment",
        summary="Manage environments: the Python packages jobs run with.",
        description=(
            "Manage environments. An environment is a conda file or a pip requirements list (and the Docker\n"
            "image it is recorded with); the studio builds it into an isolated virtualenv with uv, shared by\n"
            "every environment with the same packages. Refer to one in a job as azureml:<name>:<version>.\n"
            "Curated environments (AzureML-...) ship with the studio: list them with --registry-name azureml."
        ),
        examples=[
            ("Create an environment from its YAML", "studio environment create --file env.yml"),
            ("Follow its build", "studio environment build-log my-env 1"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Create an environment from Azure ML YAML, a conda file or pip requirements.",
        description=(
            "Create an environment, as `az ml environment create`. With --file, the YAML's conda_file is\n"
            "read relative to the YAML and sent along. --name and --version override the YAML's."
        ),
        examples=[
            ("From an Azure ML environment YAML", "studio environment create --file env.yml -w my-workspace"),
            (
                "From a conda file",
                "studio environment create -n sklearn-env --conda-file conda.yml "
                "--image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
            ),
            ("From a requirements.txt", "studio environment create -n pandas-env --pip-requirements requirements.txt"),
        ],
        columns=COLUMNS,
    )
    parser.add_argument("--file", "-f", metavar="YAML", help="Azure ML environment YAML (image + conda_file).")
    parser.add_argument("--name", "-n", help="Environment name (overrides the YAML's).")
    parser.add_argument("--version", "-v", help="Version (overrides the YAML's). Default: the next number.")
    parser.add_argument("--conda-file", "-c", metavar="PATH", help="A conda environment file (without --file).")
    parser.add_argument("--pip-requirements", metavar="PATH", help="A requirements.txt (without --file).")
    parser.add_argument("--image", "-i", help="The Docker image it is based on (without --file).")
    parser.add_argument("--description", "-d", help="Description, in markdown (without --file).")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List environments (the latest version of each).",
        examples=[
            ("List environments as a table", "studio environment list -o table"),
            ("List the curated environments", "studio environment list --registry-name azureml -o table"),
        ],
        columns=COLUMNS,
    )
    parser.add_argument("--registry-name", metavar="NAME", help="'azureml' lists the curated environments.")
    parser.add_argument("--include-archived", action="store_true", help="Also list archived environments.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show an environment version, with its build.",
        examples=[("The newest version", "studio environment show -n my-env --label latest")],
        columns=COLUMNS,
    )
    versioned.add_name_version(parser, "environment")
    versioned.add_archive_commands(
        commands, group="environment", kind="environments", what="environment", example="my-env", columns=COLUMNS
    )
    parser = add_command(
        commands,
        "rebuild",
        handler=rebuild,
        summary="Build an environment's image again after a failure (or for the first time).",
        examples=[("Build version 1 again", "studio environment rebuild -n my-env -v 1")],
        columns=COLUMNS,
    )
    versioned.add_name_version(parser, "environment", label=False)

    parser = add_command(
        commands,
        "build-log",
        handler=build_log,
        summary="Print an environment's build log, following it while the build runs.",
        description=(
            "Print the build log of an environment version. While the build runs, new lines are printed as\n"
            "they come until it ends (--no-follow prints what is there and returns). Exits with 1 when the\n"
            "build failed."
        ),
        examples=[("Follow a build", "studio environment build-log my-env 1 -w my-workspace")],
    )
    parser.add_argument("name", metavar="NAME", help="Environment name.")
    parser.add_argument("version", metavar="VERSION", help="Version.")
    parser.add_argument("--no-follow", dest="follow", action="store_false", help="Do not wait for new lines.")
    parser.set_defaults(output="none")
    add_workspace_option(parser)

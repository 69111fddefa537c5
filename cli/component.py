"""`studio component`: create, list, show, archive and restore components, as `az ml component` does.

`create --file component.yml` uploads the YAML with the folder its `code:` names (relative to the
YAML) and, for an inline environment, the conda file its `conda_file:` names.
"""

from pathlib import Path

import yaml

from .client import api_path
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import CliError, UsageError
from .model import is_local, local_parts, post_with_files

COLUMNS = [
    ("Name", "name"),
    ("Version", "version"),
    ("DisplayName", "display_name"),
    ("Type", "type"),
    ("Archived", "is_archived"),
    ("CreatedOn", "created_at"),
]


def _components_path(ctx: Context, *rest: str) -> str:
    return api_path("workspaces", ctx.workspace, "components", *rest)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror or exc}")


def create(ctx: Context):
    spec = Path(ctx.args.file)
    text = _read(spec, "the component YAML")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None  # the studio reports the syntax error with its line
    data = data if isinstance(data, dict) else {}
    files, extra = [], [("yaml", (spec.name, text.encode()))]
    code = data.get("code")
    if isinstance(code, str) and code and is_local(code):
        folder = (spec.parent / code).resolve()
        if not folder.exists():
            raise CliError(f"code {code!r} in {spec} names nothing on this machine ({folder}).")
        files = local_parts(folder, keep_top=False)
    environment = data.get("environment")
    if isinstance(environment, dict) and isinstance(environment.get("conda_file"), str):
        conda = (spec.parent / environment["conda_file"]).resolve()
        extra.append(("conda_file", (conda.name, _read(conda, "the conda file").encode())))
    return post_with_files(ctx, _components_path(ctx), data={}, files=files, extra=extra)


def list_(ctx: Context):
    params = {}
    if ctx.args.name:
        params["name"] = ctx.args.name
    if ctx.args.include_archived:
        params["include_archived"] = "true"
    return ctx.client.get(_components_path(ctx), params=params)


def show(ctx: Context):
    version = ctx.args.version
    if not version:
        if ctx.args.label != "latest":
            raise UsageError("give --version/-v VERSION or --label latest.")
        versions = ctx.client.get(_components_path(ctx), params={"name": ctx.args.name})
        if not versions:
            raise CliError(f"No component named {ctx.args.name!r} (that is not archived) in {ctx.workspace}.")
        version = versions[0]["version"]
    return ctx.client.get(_components_path(ctx, ctx.args.name, "versions", version))


def archive(ctx: Context):
    return ctx.client.post(_components_path(ctx, ctx.args.name, "versions", ctx.args.version, "archive"))


def restore(ctx: Context):
    return ctx.client.post(_components_path(ctx, ctx.args.name, "versions", ctx.args.version, "restore"))


def register(groups) -> None:
    commands = add_group(
        groups,
        "component",
        summary="Manage components.",
        description=(
            "Manage components. A command component is a reusable step: a typed interface (inputs and\n"
            "outputs), a command with ${{inputs.x}} and ${{outputs.y}} bindings, an environment and a code\n"
            "snapshot. It is written as Azure ML component YAML (commandComponent.schema.json)."
        ),
        examples=[
            ("Register a component and its code folder", "studio component create --file component.yml"),
            ("List components as a table", "studio component list -o table"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Register a component from its YAML, with its code folder.",
        description=(
            "Register a component version from an Azure ML command component YAML.\n\n"
            "The folder its `code:` names is read relative to the YAML and uploaded as the component's\n"
            "code snapshot (.git and __pycache__ folders are left out); an inline environment's\n"
            "`conda_file:` is uploaded with it. The studio validates the YAML with azure-ai-ml's loader:\n"
            "an error names the field and its line, and nothing is created."
        ),
        examples=[("Register a component", "studio component create --file ./train/component.yml -w my-workspace")],
        columns=COLUMNS,
    )
    parser.add_argument("--file", "-f", required=True, help="The component YAML.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List components: the newest version of each, or every version of one.",
        examples=[("Every version of one component", "studio component list --name train_model -o table")],
        columns=COLUMNS,
    )
    parser.add_argument("--name", "-n", help="Only the versions of this component.")
    parser.add_argument("--include-archived", action="store_true", help="Also list archived versions.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a component version with its spec and YAML.",
        examples=[("The newest version", "studio component show -n train_model --label latest")],
        columns=COLUMNS,
    )
    parser.add_argument("--name", "-n", required=True, help="Name of the component.")
    parser.add_argument("--version", "-v", help="Version of the component.")
    parser.add_argument("--label", "-l", choices=["latest"], help="Instead of --version: latest.")
    add_workspace_option(parser)

    for name, handler, summary in (
        ("archive", archive, "Archive a component version: hidden from lists and from @latest."),
        ("restore", restore, "Restore an archived component version."),
    ):
        parser = add_command(
            commands,
            name,
            handler=handler,
            summary=summary,
            examples=[(summary.split(":")[0], f"studio component {name} -n train_model -v 1")],
            columns=COLUMNS,
        )
        parser.add_argument("--name", "-n", required=True, help="Name of the component.")
        parser.add_argument("--version", "-v", required=True, help="Version of the component.")
        add_workspace_option(parser)

"""`studio component`: create, list, show, archive and restore components, as `az ml component` does.

`create --file component.yml` uploads the YAML with the folder its `code:` names (relative to the
YAML) and, for an inline environment, the conda file its `conda_file:` names.
"""

from pathlib import Path

import yaml

from . import versioned
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import CliError
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
    return versioned.asset_path(ctx, "components", *rest)


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
    version = versioned.version_of(ctx, "components", "component")
    return ctx.client.get(_components_path(ctx, ctx.args.name, "versions", version))


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
    versioned.add_list_arguments(parser, "component")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a component version with its spec and YAML.",
        examples=[("The newest version", "studio component show -n train_model --label latest")],
        columns=COLUMNS,
    )
    versioned.add_name_version(parser, "component")
    versioned.add_archive_commands(
        commands, group="component", kind="components", what="component", example="train_model", columns=COLUMNS
    )

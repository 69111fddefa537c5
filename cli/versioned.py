"""What the asset groups (data, environment, model, component) share: their API paths, --version or
--label latest, and the archive and restore commands, which take a version or, without one, archive
or restore the whole asset (every version), as `az ml <kind> archive` does."""

from .client import api_path
from .commands import Context, add_command, add_workspace_option
from .errors import CliError, UsageError


def asset_path(ctx: Context, kind: str, *rest: str) -> str:
    """`kind` as the API names it: data, environments, models, components."""
    return api_path("workspaces", ctx.workspace, kind, *rest)


def version_of(ctx: Context, kind: str, what: str) -> str:
    """--version, or with --label latest the newest version that is not archived."""
    args = ctx.args
    label = getattr(args, "label", None)
    if args.version and label:
        raise UsageError("give --version or --label, not both.")
    if args.version:
        return args.version
    if label == "latest":
        versions = ctx.client.get(asset_path(ctx, kind, args.name, "versions"))
        current = [v for v in versions if not v["is_archived"]]
        if not current:
            raise CliError(f"No {what} named {args.name!r} (that is not archived) in {ctx.workspace}.")
        return current[0]["version"]
    raise UsageError("give --version/-v VERSION or --label latest.")


def name_values(pairs: list[str] | None, option: str = "--tags") -> dict:
    """--tags team=risk stage=dev -> {"team": "risk", "stage": "dev"} (a bare name: empty value)."""
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not key:
            raise UsageError(f"{option}: expected name=value, got {pair!r}.")
        values[key] = value if sep else ""
    return values


def add_create_arguments(parser, what: str, *, types, default_type: str, tags_example: str) -> None:
    """The arguments `create` takes for a data asset or a model: a YAML, or name, path and type."""
    parser.add_argument("--file", "-f", help=f"An Azure ML {what} YAML (name, version, type, path, ...).")
    parser.add_argument("--name", "-n", help=f"Name of the {what} (overrides the YAML's).")
    parser.add_argument("--version", "-v", help="Version (overrides the YAML's). Default: the next number.")
    parser.add_argument("--path", "-p", help="A local file or folder, or an azureml://datastores/... URI.")
    parser.add_argument("--type", "-t", choices=types, default=default_type, help="Default: %(default)s.")
    parser.add_argument("--datastore", help="The datastore --path is inside (then --path is not uploaded).")
    parser.add_argument("--description", "-d", help="Description (markdown).")
    parser.add_argument("--tags", nargs="*", metavar="NAME=VALUE", help=f"Tags, e.g. --tags {tags_example}.")


def add_list_arguments(parser, what: str) -> None:
    parser.add_argument("--name", "-n", help=f"Only the versions of this {what}.")
    parser.add_argument("--include-archived", action="store_true", help="Also list archived versions.")


def add_name_version(parser, what: str, *, label: bool = True) -> None:
    """--name, --version and (with `label`) --label latest, then --workspace-name."""
    parser.add_argument("--name", "-n", required=True, help=f"Name of the {what}.")
    parser.add_argument("--version", "-v", help=f"Version of the {what}.")
    if label:
        parser.add_argument("--label", "-l", choices=["latest"], help="Instead of --version: latest.")
    add_workspace_option(parser)


def _set_archived(kind: str, action: str):
    def handler(ctx: Context):
        version = ("versions", ctx.args.version) if ctx.args.version else ()
        return ctx.client.post(asset_path(ctx, kind, ctx.args.name, *version, action))

    return handler


def add_archive_commands(commands, *, group: str, kind: str, what: str, example: str, columns) -> None:
    """`studio <group> archive` and `restore` for a version (--version) or the whole asset."""
    a = "an" if what[0] in "aeiou" else "a"
    for action, summary in (
        ("archive", f"Archive {a} {what} version, or the whole {what}: hidden from lists and from @latest."),
        ("restore", f"Restore an archived {what} version, or every version of the {what}."),
    ):
        parser = add_command(
            commands,
            action,
            handler=_set_archived(kind, action),
            summary=summary,
            description=(
                f"{summary}\n\nWith --version, that version; without it, every version of the {what}.\n"
                "An archived version stays usable by its exact version (azureml:<name>:<version>)."
            ),
            examples=[
                (f"{action.capitalize()} version 1", f"studio {group} {action} -n {example} -v 1"),
                (f"{action.capitalize()} every version", f"studio {group} {action} -n {example}"),
            ],
            columns=columns,
        )
        parser.add_argument("--name", "-n", required=True, help=f"Name of the {what}.")
        parser.add_argument("--version", "-v", help="The version. Default: every version.")
        add_workspace_option(parser)

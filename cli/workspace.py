"""`studio workspace`: create, list and show workspaces."""

from .client import api_path
from .commands import Context, add_command, add_group, add_workspace_option

COLUMNS = [
    ("Name", "name"),
    ("DisplayName", "display_name"),
    ("Role", "role"),
    ("StorageAccount", "storage_account"),
    ("CreatedAt", "created_at"),
]


def create(ctx: Context):
    args = ctx.args
    body = {"name": args.name, "display_name": args.display_name, "description": args.description}
    return ctx.client.post("workspaces", json=body)


def list_(ctx: Context):
    return ctx.client.get("workspaces")


def show(ctx: Context):
    return ctx.client.get(api_path("workspaces", ctx.args.name or ctx.workspace))


def register(groups) -> None:
    commands = add_group(
        groups,
        "workspace",
        summary="Manage workspaces.",
        description=(
            "Manage workspaces. A workspace is the top-level resource of the studio: it comes with its own\n"
            "storage account and four datastores (workspaceblobstore is the default), and holds the data,\n"
            "jobs, models and members of one project."
        ),
        examples=[
            ("Create a workspace", "studio workspace create --name fraud-detection"),
            ("List the workspaces you are a member of, as a table", "studio workspace list -o table"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Create a workspace, with its storage account and datastores.",
        description=(
            "Create a workspace. You become its Owner. The studio creates its storage account and the four\n"
            "datastores workspaceblobstore (default), workspaceartifactstore, workspaceworkingdirectory and\n"
            "workspacefilestore."
        ),
        examples=[
            ("Create a workspace", "studio workspace create --name fraud-detection"),
            (
                "Create a workspace with a display name and a description",
                'studio workspace create -n fraud-detection --display-name "Fraud detection" --description "Card fraud models"',
            ),
        ],
        columns=COLUMNS,
    )
    parser.add_argument(
        "--name",
        "-n",
        required=True,
        help="Workspace name: 3 to 33 letters, digits, hyphens or underscores, starting with a letter or digit.",
    )
    parser.add_argument("--display-name", default="", help="A friendly name shown in the studio.")
    parser.add_argument("--description", default="", help="What the workspace is for.")

    add_command(
        commands,
        "list",
        handler=list_,
        summary="List the workspaces you are a member of.",
        examples=[
            ("List workspaces", "studio workspace list"),
            ("Only their names, one per line", "studio workspace list -o tsv | cut -f1"),
        ],
        columns=COLUMNS,
    )

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a workspace.",
        description="Show a workspace: --name, else the workspace given by --workspace-name/-w or $STUDIO_WORKSPACE.",
        examples=[
            ("Show a workspace", "studio workspace show --name fraud-detection"),
            ("Show the workspace named in $STUDIO_WORKSPACE, as YAML", "studio workspace show -o yaml"),
        ],
        columns=COLUMNS,
    )
    parser.add_argument("--name", "-n", help="Workspace name. Default: the --workspace-name/-w workspace.")
    add_workspace_option(parser)

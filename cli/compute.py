"""`studio compute`: compute clusters from Azure ML amlCompute YAML or flags; list, show (with nodes),
update, delete, list-nodes."""

import sys
from pathlib import Path

from .client import api_path
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import UsageError

COLUMNS = [
    ("Name", "name"),
    ("Type", "type"),
    ("Size", "size"),
    ("MinInstances", "min_instances"),
    ("MaxInstances", "max_instances"),
    ("Nodes", "current_node_count"),
    ("Busy", "busy_node_count"),
]
NODE_COLUMNS = [("NodeId", "node_id"), ("State", "node_state"), ("RunId", "run_id"), ("Hostname", "hostname")]


def _computes(ctx: Context, *rest: str) -> str:
    return api_path("workspaces", ctx.workspace, "computes", *rest)


def create(ctx: Context):
    args = ctx.args
    if args.file:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"--file: no such file: {args.file}")
        except UnicodeDecodeError:
            raise UsageError(f"--file: {args.file} is not UTF-8 text.")
        if args.name:  # as az: --name wins over the YAML's
            import yaml

            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError:
                raw = None  # the studio names the line
            if isinstance(raw, dict):
                raw["name"] = args.name
                text = yaml.safe_dump(raw, sort_keys=False)
        return ctx.client.post(_computes(ctx), json={"yaml": text})
    if not args.name:
        raise UsageError("give --file cluster.yml, or --name (with --size, --min-instances, --max-instances ...).")
    if args.type and args.type.lower() != "amlcompute":
        raise UsageError(f"--type: only amlcompute (a compute cluster) is supported here, not {args.type!r}.")
    body = {"name": args.name, "type": "amlcompute"}
    for option in ("size", "min_instances", "max_instances", "idle_time_before_scale_down", "description"):
        value = getattr(args, option)
        if value is not None:
            body[option] = value
    return ctx.client.post(_computes(ctx), json=body)


def list_(ctx: Context):
    return ctx.client.get(_computes(ctx))


def show(ctx: Context):
    return ctx.client.get(_computes(ctx, ctx.args.name))


def list_nodes(ctx: Context):
    return ctx.client.get(_computes(ctx, ctx.args.name))["nodes"]


def update(ctx: Context):
    body = {
        option: getattr(ctx.args, option)
        for option in ("min_instances", "max_instances", "idle_time_before_scale_down")
        if getattr(ctx.args, option) is not None
    }
    if not body:
        raise UsageError("give --min-instances, --max-instances or --idle-time-before-scale-down.")
    return ctx.client.patch(_computes(ctx, ctx.args.name), json=body)


def delete(ctx: Context):
    if not ctx.args.yes:
        if not sys.stdin.isatty():
            raise UsageError("cannot ask for confirmation without a terminal: add --yes to delete the compute.")
        answer = input(f"Delete compute {ctx.args.name!r} from workspace {ctx.workspace!r}? (y/n): ")
        if answer.strip().lower() not in ("y", "yes"):
            return None
    ctx.client.delete(_computes(ctx, ctx.args.name))
    return None


def _scale_options(parser) -> None:
    parser.add_argument("--min-instances", type=int, metavar="N", help="Nodes kept running when idle (0 or more).")
    parser.add_argument("--max-instances", type=int, metavar="N", help="Nodes it may scale up to (1 to 100).")
    parser.add_argument(
        "--idle-time-before-scale-down",
        type=int,
        metavar="SECONDS",
        help="How long a node may be idle before it is stopped.",
    )


def register(groups) -> None:
    commands = add_group(
        groups,
        "compute",
        summary="Manage compute clusters: where jobs run.",
        description=(
            "Manage compute clusters. A cluster runs jobs on its nodes, scaling between --min-instances and\n"
            "--max-instances as jobs queue, and stopping nodes idle for --idle-time-before-scale-down seconds.\n"
            "Every workspace has cpu-cluster. Specs are Azure ML amlCompute YAML, as `az ml compute create -f`."
        ),
        examples=[
            ("Create a cluster from YAML", "studio compute create --file cluster.yml"),
            ("See its nodes and the job each runs", "studio compute show -n cpu-cluster"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Create a compute cluster from Azure ML YAML or flags.",
        description=(
            "Create a compute cluster, as `az ml compute create`. The YAML:\n\n"
            "  $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
            "  name: gpu-cluster\n"
            "  type: amlcompute\n"
            "  size: STANDARD_NC6s_v3\n"
            "  min_instances: 0\n"
            "  max_instances: 4\n"
            "  idle_time_before_scale_down: 120"
        ),
        examples=[
            ("From YAML", "studio compute create --file cluster.yml -w my-workspace"),
            ("From flags", "studio compute create -n cpu-small --type amlcompute --min-instances 1 --max-instances 2"),
        ],
        columns=COLUMNS,
    )
    parser.add_argument("--file", "-f", metavar="YAML", help="An Azure ML amlCompute YAML.")
    parser.add_argument("--name", "-n", help="Cluster name (overrides the YAML's).")
    parser.add_argument("--type", "-t", help="amlcompute (the only type here).")
    parser.add_argument("--size", help="The VM size it is recorded with, e.g. Standard_DS3_v2.")
    _scale_options(parser)
    parser.add_argument("--description", "-d", help="Description.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List the compute clusters of a workspace.",
        examples=[("List clusters as a table", "studio compute list -o table")],
        columns=COLUMNS,
    )
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a compute cluster with its nodes (state, and the job each runs).",
        examples=[("Show a cluster", "studio compute show -n cpu-cluster")],
        columns=COLUMNS,
    )
    parser.add_argument("--name", "-n", required=True, help="Cluster name.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list-nodes",
        handler=list_nodes,
        summary="List the nodes of a compute cluster.",
        examples=[("Nodes as a table", "studio compute list-nodes -n cpu-cluster -o table")],
        columns=NODE_COLUMNS,
    )
    parser.add_argument("--name", "-n", required=True, help="Cluster name.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "update",
        handler=update,
        summary="Change how a compute cluster scales.",
        examples=[("Keep one node warm", "studio compute update -n cpu-cluster --min-instances 1")],
        columns=COLUMNS,
    )
    parser.add_argument("--name", "-n", required=True, help="Cluster name.")
    _scale_options(parser)
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "delete",
        handler=delete,
        summary="Delete a compute cluster that never ran a job.",
        examples=[("Delete without asking", "studio compute delete -n gpu-cluster --yes")],
    )
    parser.add_argument("--name", "-n", required=True, help="Cluster name.")
    parser.add_argument("--yes", "-y", action="store_true", help="Do not ask for confirmation.")
    parser.set_defaults(output="none")
    add_workspace_option(parser)

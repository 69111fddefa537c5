"""`studio`: the entry point. Parses the command line, connects, runs the command, prints its result.

Exit codes, as `az`: 0 success, 1 error (from the studio, the network or local files),
2 usage error (a missing or wrong argument, no URL, token or workspace).
"""

import argparse
import os
import sys

from . import component, compute, data, datastore, environment, job, model, output, workspace
from .client import StudioClient
from .commands import Context, HelpFormatter
from .errors import CliError, UsageError
from .version import __version__

# One module per command group; each has register(groups).
GROUPS = [workspace, datastore, data, environment, model, component, job, compute]

DESCRIPTION = """\
The command line of the studio, in the shape of Azure's `az ml`: workspaces, datastores and
their files, data, environments, models and components, compute clusters, and jobs (submit from
Azure ML YAML, stream logs, download outputs).

Connection settings come from the environment, or from flags that win over it:
  STUDIO_URL        --url                   the studio's address, e.g. http://localhost:8000
  STUDIO_TOKEN      --token                 a personal API token (the studio's /accounts/tokens/ page)
  STUDIO_WORKSPACE  --workspace-name / -w   the workspace, for commands that work inside one"""

EPILOG = """\
examples:
  Point the CLI at a studio
    $ export STUDIO_URL=http://localhost:8000 STUDIO_TOKEN=stu_... STUDIO_WORKSPACE=my-workspace
  List workspaces as a table
    $ studio workspace list -o table
  Upload a folder to the default datastore
    $ studio datastore upload -n workspaceblobstore --src ./data --dest raw/data
  Register a data asset and submit a job from Azure ML YAML, then follow its log
    $ studio data create --file data.yml
    $ studio job create --file job.yml --stream

Run `studio <group> --help` or `studio <group> <command> --help` for more."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.set_defaults(handler=None, command_parser=parser)
    groups = parser.add_subparsers(title="groups", metavar="<group>")
    for group in GROUPS:
        group.register(groups)
    return parser


def _connect(args: argparse.Namespace) -> StudioClient:
    url = (args.url or os.environ.get("STUDIO_URL", "")).strip()
    token = (args.token or os.environ.get("STUDIO_TOKEN", "")).strip()
    if not url:
        raise UsageError("no studio URL given: pass --url URL or set STUDIO_URL (e.g. http://localhost:8000).")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url / STUDIO_URL must start with http:// or https:// (got {url!r}).")
    if not token:
        raise UsageError(
            "no API token given: pass --token TOKEN or set STUDIO_TOKEN (create one on /accounts/tokens/)."
        )
    return StudioClient(url, token)


def run(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        result = args.handler(Context(args=args, client=client))
    sys.stdout.write(output.render(result, args.output, args.columns))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.handler is None:  # `studio` or `studio <group>` alone: its help, as `az`
        args.command_parser.print_help()
        return 0
    try:
        return run(args)
    except UsageError as exc:
        args.command_parser.error(str(exc))  # usage line, message, exit 2
    except CliError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # local files: permissions, full disk, ...
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ERROR: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

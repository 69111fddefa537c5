"""Building blocks for command groups.

A group is one module with a `register(groups)` function that calls `add_group` once and
`add_command` for each of its commands; `cli/main.py` lists the modules. A command's handler
takes a `Context` and returns the result object, which `main` renders in the chosen --output.
"""

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

from .client import StudioClient
from .errors import UsageError
from .output import FORMATS, Column


@dataclass
class Context:
    args: argparse.Namespace
    client: StudioClient

    @property
    def workspace(self) -> str:
        """The workspace from --workspace-name/-w, else $STUDIO_WORKSPACE."""
        name = getattr(self.args, "workspace_name", None) or os.environ.get("STUDIO_WORKSPACE", "")
        if not name:
            raise UsageError("no workspace given: pass --workspace-name/-w NAME or set STUDIO_WORKSPACE.")
        return name


Handler = Callable[[Context], object]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples kept as written; each sub-command's help on its own line."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=32)

    def add_argument(self, action):
        super().add_argument(action)
        # argparse measures sub-command names one indent too shallow, then wraps their help.
        for subaction in self._iter_indented_subactions(action):
            width = len(self._format_action_invocation(subaction)) + self._current_indent
            self._action_max_length = max(self._action_max_length, width)


def _epilog(examples: list[tuple[str, str]]) -> str | None:
    if not examples:
        return None
    return "examples:\n" + "\n".join(f"  {summary}\n    $ {command}\n" for summary, command in examples)


def add_group(groups, name: str, *, summary: str, description: str = "", examples=()):
    """A command group (`studio <name> ...`); returns the action to add its commands to."""
    parser = groups.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=_epilog(list(examples)),
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(handler=None, command_parser=parser)
    return parser.add_subparsers(title="commands", metavar="<command>")


def add_command(
    commands,
    name: str,
    *,
    handler: Handler,
    summary: str,
    description: str = "",
    examples=(),
    columns: list[Column] | None = None,
) -> argparse.ArgumentParser:
    """A command (`studio <group> <name>`); add its own arguments to the parser it returns.

    `columns` are the (header, key) pairs shown by `--output table`.
    """
    parser = commands.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=_epilog(list(examples)),
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(handler=handler, columns=columns, command_parser=parser)
    options = parser.add_argument_group("global arguments")
    options.add_argument("--url", help="The studio's address, e.g. http://localhost:8000. Default: $STUDIO_URL.")
    options.add_argument(
        "--token", help="A personal API token (the studio's /accounts/tokens/ page). Default: $STUDIO_TOKEN."
    )
    options.add_argument(
        "--output",
        "-o",
        choices=FORMATS,
        default="json",
        metavar="FORMAT",
        help="Output format: %(choices)s. Default: %(default)s.",
    )
    return parser


def add_workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace-name",
        "-w",
        dest="workspace_name",
        metavar="NAME",
        help="The workspace. Default: $STUDIO_WORKSPACE.",
    )

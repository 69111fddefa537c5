"""`studio datastore`: list and show datastores, upload files to them and download files from them."""

import re
import sys
from contextlib import ExitStack
from pathlib import Path

from . import transfers
from .client import api_path
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import CliError, UsageError

COLUMNS = [
    ("Name", "name"),
    ("Kind", "kind"),
    ("IsDefault", "is_default"),
    ("StorageAccount", "account_name"),
    ("Container", "container_name"),
    ("Uri", "uri"),
]
URI = re.compile(r"^azureml://datastores/(?P<datastore>[^/]+)/paths/(?P<path>.*)$")


def _uri(datastore: str, path: str) -> str:
    return f"azureml://datastores/{datastore}/paths/{path}"


def _datastore_and_path(ctx: Context, value: str, option: str) -> tuple[str, str]:
    """(datastore, path) from --name and a path, or from an azureml://datastores/<name>/paths/<path> URI."""
    name = ctx.args.name
    if value.startswith("azureml:"):
        match = URI.match(value)
        if not match:
            raise UsageError(f"{option}: expected azureml://datastores/<name>/paths/<path>, got {value!r}.")
        if name and name != match["datastore"]:
            raise UsageError(f"{option} names datastore {match['datastore']!r} but --name is {name!r}.")
        return match["datastore"], match["path"]
    if not name:
        raise UsageError("the following arguments are required: --name/-n (or give an azureml:// path).")
    return name, value


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _files_path(ctx: Context, datastore: str, *rest: str) -> str:
    return api_path("workspaces", ctx.workspace, "datastores", datastore, "files", *rest)


def list_(ctx: Context):
    return ctx.client.get(api_path("workspaces", ctx.workspace, "datastores"))


def show(ctx: Context):
    return ctx.client.get(api_path("workspaces", ctx.workspace, "datastores", ctx.args.name))


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{message}", end="", file=sys.stderr, flush=True)


def upload(ctx: Context):
    datastore, dest = _datastore_and_path(ctx, ctx.args.dest, "--dest")
    files = transfers.local_files(Path(ctx.args.src))
    if not files:
        raise CliError(f"Nothing to upload: {ctx.args.src} holds no files.")
    total = sum(file.size for file in files)
    uploaded: list[str] = []
    for batch in transfers.batches(files):
        with ExitStack() as stack:
            parts = [("files", (file.path.name, stack.enter_context(open(file.path, "rb")))) for file in batch]
            answer = ctx.client.post(
                _files_path(ctx, datastore),
                data={"path": dest, "relative_paths": [file.relative for file in batch]},
                files=parts,
            )
        uploaded += answer["uploaded"]
        _progress(f"Uploaded {len(uploaded)} of {len(files)} files")
    _progress("\n")
    return {
        "datastore": datastore,
        "destination": _uri(datastore, "/".join(_parts(dest))),
        "files": len(uploaded),
        "bytes": total,
        "uploaded": uploaded,
    }


def download(ctx: Context):
    datastore, src = _datastore_and_path(ctx, ctx.args.src, "--src")
    dest = Path(ctx.args.dest)
    if dest.exists() and not dest.is_dir():
        raise CliError(f"--dest must be a folder, and {dest} is a file.")
    parts = _parts(src)
    target = dest / (parts[-1] if parts else datastore)
    with ctx.client.stream("GET", _files_path(ctx, datastore, "content"), params={"path": src}) as response:
        written = transfers.save_download(response, folder=target, file=target)
    return {
        "datastore": datastore,
        "source": _uri(datastore, "/".join(parts)),
        "destination": str(target),
        "files": len(written),
        "bytes": sum(path.stat().st_size for path in written),
        "downloaded": [str(path) for path in written],
    }


def register(groups) -> None:
    commands = add_group(
        groups,
        "datastore",
        summary="Manage datastores and the files in them.",
        description=(
            "Manage datastores. A datastore connects a workspace to storage: every workspace has\n"
            "workspaceblobstore (the default), workspaceartifactstore, workspaceworkingdirectory and\n"
            "workspacefilestore. Paths inside a datastore can also be written as\n"
            "azureml://datastores/<name>/paths/<path>."
        ),
        examples=[
            ("List the datastores of a workspace", "studio datastore list -w my-workspace -o table"),
            (
                "Upload a folder and download it back",
                "studio datastore upload -n workspaceblobstore --src ./data --dest raw/data\n"
                "    $ studio datastore download -n workspaceblobstore --src raw/data --dest ./copy",
            ),
        ],
    )

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List the datastores of a workspace.",
        examples=[("List datastores", "studio datastore list -w my-workspace -o table")],
        columns=COLUMNS,
    )
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a datastore (never its credentials).",
        examples=[("Show the default datastore", "studio datastore show -n workspaceblobstore -w my-workspace")],
        columns=COLUMNS,
    )
    parser.add_argument("--name", "-n", required=True, help="Datastore name.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "upload",
        handler=upload,
        summary="Upload a file or a folder to a datastore.",
        description=(
            "Upload a file or a folder to a datastore.\n\n"
            "A file is stored as DEST/<file name>. For a folder, its *contents* are stored below DEST,\n"
            "keeping their relative paths, as `az storage blob upload-batch` does: --src ./data --dest raw\n"
            "stores ./data/train/a.csv as raw/train/a.csv. Files already there are replaced.\n\n"
            "Files are streamed from disk in batches of at most 100 files or 256 MB per request; each\n"
            "batch is stored whole or not at all, so a failure part-way leaves the earlier batches in place."
        ),
        examples=[
            (
                "Upload a file to raw/ in the default datastore",
                "studio datastore upload -n workspaceblobstore --src ./train.csv --dest raw -w my-workspace",
            ),
            (
                "Upload the contents of ./images to images/ (images/cats/1.png, ...)",
                "studio datastore upload -n workspaceblobstore --src ./images --dest images",
            ),
            (
                "The same, with the destination as a datastore URI",
                "studio datastore upload --src ./images --dest azureml://datastores/workspaceblobstore/paths/images",
            ),
        ],
        columns=[("Datastore", "datastore"), ("Destination", "destination"), ("Files", "files"), ("Bytes", "bytes")],
    )
    parser.add_argument("--name", "-n", help="Datastore name (optional when --dest is an azureml:// URI).")
    parser.add_argument("--src", "-s", required=True, metavar="LOCAL_PATH", help="A local file or folder.")
    parser.add_argument(
        "--dest",
        "-d",
        default="",
        metavar="PATH",
        help="Folder in the datastore to upload into, or an azureml:// URI. Default: the datastore's root.",
    )
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "download",
        handler=download,
        summary="Download a file or a folder from a datastore.",
        description=(
            "Download a file or a folder from a datastore.\n\n"
            "A file is saved as DEST/<file name>. A folder is downloaded with everything below it and saved\n"
            "as DEST/<folder name>/... (the studio sends it as a zip; names that would land outside DEST\n"
            "are refused). Files already there are replaced. DEST is created if needed."
        ),
        examples=[
            (
                "Download a file into the current folder",
                "studio datastore download -n workspaceblobstore --src raw/train.csv --dest . -w my-workspace",
            ),
            (
                "Download the folder images/ as ./copy/images/",
                "studio datastore download -n workspaceblobstore --src images --dest ./copy",
            ),
        ],
        columns=[("Datastore", "datastore"), ("Source", "source"), ("Destination", "destination"), ("Files", "files")],
    )
    parser.add_argument("--name", "-n", help="Datastore name (optional when --src is an azureml:// URI).")
    parser.add_argument(
        "--src",
        "-s",
        required=True,
        metavar="PATH",
        help="File or folder in the datastore, or an azureml:// URI. An empty path means the whole datastore.",
    )
    parser.add_argument("--dest", "-d", required=True, metavar="LOCAL_FOLDER", help="Local folder to save into.")
    add_workspace_option(parser)

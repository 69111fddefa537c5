"""`studio model`: create, list, show, download, archive and restore models, as `az ml model` does.

A local file or folder is sent with the registration in one multipart request (models are usually
small; at most MAX_FILES files); the studio stores it in the default datastore under
LocalUpload/<id>/<file or folder name>.
"""

import json
import sys
from contextlib import ExitStack
from pathlib import Path

import yaml

from . import transfers, versioned
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import CliError, UsageError

COLUMNS = [
    ("Name", "name"),
    ("Version", "version"),
    ("Type", "type"),
    ("Path", "uri"),
    ("Archived", "is_archived"),
    ("CreatedOn", "created_at"),
]
TYPES = ("custom_model", "mlflow_model", "triton_model")
MAX_FILES = 1000
SKIPPED = {".git", "__pycache__", ".ipynb_checkpoints"}


def _models_path(ctx: Context, *rest: str) -> str:
    return versioned.asset_path(ctx, "models", *rest)


def is_local(path: str) -> bool:
    return "://" not in path and not path.startswith(("azureml:", "runs:", "models:"))


def local_parts(src: Path, *, keep_top: bool) -> list[transfers.LocalFile]:
    """The files to send for `src`: a file as itself; a folder's files below the folder's own name
    (keep_top) or relative to it; version-control and cache folders left out."""
    if not src.exists():
        raise CliError(f"No such file or folder: {src}")
    files = [f for f in transfers.local_files(src) if not SKIPPED & set(f.relative.split("/"))]
    if not files:
        raise CliError(f"Nothing to upload: {src} holds no files.")
    if len(files) > MAX_FILES:
        raise CliError(f"{src} holds {len(files)} files; at most {MAX_FILES} can be sent with a registration.")
    if src.is_dir() and keep_top:
        top = src.resolve().name
        files = [transfers.LocalFile(f.path, f"{top}/{f.relative}", f.size) for f in files]
    return files


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def post_with_files(ctx: Context, path: str, *, data: dict, files: list[transfers.LocalFile], extra=()):
    """One multipart POST: the fields, each file as `files` with its `relative_paths`, and `extra`
    (field, (name, bytes)) parts; files are streamed from disk."""
    if files and sys.stderr.isatty():
        print(f"Uploading {len(files)} file(s), {_size(sum(f.size for f in files))}…", file=sys.stderr)
    with ExitStack() as stack:
        parts = [("files", (f.relative.rsplit("/", 1)[-1], stack.enter_context(open(f.path, "rb")))) for f in files]
        parts += list(extra)
        fields = {**data, "relative_paths": [f.relative for f in files]}
        return ctx.client.post(path, data=fields, files=parts or None)


def create(ctx: Context):
    args = ctx.args
    if args.file:
        return _create_from_yaml(ctx, Path(args.file))
    if not args.name or not args.path:
        raise UsageError("give --file model.yml, or --name and --path.")
    fields = {
        "name": args.name,
        "version": args.version or "",
        "type": args.type,
        "description": args.description or "",
        "tags": json.dumps(versioned.name_values(args.tags)),
        "properties": json.dumps(versioned.name_values(args.properties, "--properties")),
    }
    if is_local(args.path) and not args.datastore:
        files = local_parts(Path(args.path), keep_top=True)
        return post_with_files(ctx, _models_path(ctx), data=fields, files=files)
    body = {
        **fields,
        "tags": versioned.name_values(args.tags),
        "properties": versioned.name_values(args.properties, "--properties"),
    }
    return ctx.client.post(_models_path(ctx), json={**body, "path": args.path, "datastore": args.datastore or ""})


def _create_from_yaml(ctx: Context, spec: Path):
    """As `az ml model create -f`: a local `path` (relative to the YAML) is uploaded with it."""
    try:
        text = spec.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {spec}: {exc.strerror or exc}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None  # the studio reports the syntax error with its line
    files = []
    path = data.get("path") if isinstance(data, dict) else None
    if isinstance(path, str) and path and is_local(path):
        local = (spec.parent / path).resolve()
        if not local.exists():
            raise CliError(f"path {path!r} in {spec} names nothing on this machine ({local}).")
        files = local_parts(local, keep_top=True)
    fields = {"name": ctx.args.name or "", "version": ctx.args.version or ""}
    return post_with_files(
        ctx, _models_path(ctx), data=fields, files=files, extra=[("yaml", (spec.name, text.encode()))]
    )


def list_(ctx: Context):
    params = {}
    if ctx.args.name:
        params["name"] = ctx.args.name
    if ctx.args.archived_only:
        params["archived_only"] = "true"
    elif ctx.args.include_archived:
        params["include_archived"] = "true"
    return ctx.client.get(_models_path(ctx), params=params)


def _version(ctx: Context) -> str:
    return versioned.version_of(ctx, "models", "model")


def show(ctx: Context):
    return ctx.client.get(_models_path(ctx, ctx.args.name, "versions", _version(ctx)))


def download(ctx: Context):
    """As `az ml model download`: the model's files land in DOWNLOAD_PATH/<name>/."""
    name, version = ctx.args.name, _version(ctx)
    target = Path(ctx.args.download_path) / name
    if target.exists() and not target.is_dir():
        raise CliError(f"{target} exists and is a file.")
    content = _models_path(ctx, name, "versions", version, "files", "content")
    model = ctx.client.get(_models_path(ctx, name, "versions", version))
    with ctx.client.stream("GET", content) as response:
        written = transfers.save_download(response, folder=target, file=target / model["path"].rsplit("/", 1)[-1])
    return {
        "name": name,
        "version": version,
        "destination": str(target),
        "files": len(written),
        "bytes": sum(p.stat().st_size for p in written),
    }


def register(groups) -> None:
    commands = add_group(
        groups,
        "model",
        summary="Manage models.",
        description=(
            "Manage models. A model is a file or folder in a datastore, versioned by name: a custom_model\n"
            "(any files), an mlflow_model (a folder with an MLmodel file: the studio shows its flavors,\n"
            "signature and input example) or a triton_model. Refer to one as azureml:<name>:<version>."
        ),
        examples=[
            ("Register an MLflow model folder", "studio model create -n iris --path ./iris --type mlflow_model"),
            ("Register from a model YAML", "studio model create --file model.yml"),
            ("List models as a table", "studio model list -o table"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Register a model from a YAML, a local file or folder, or a datastore path.",
        description=(
            "Register a model version.\n\n"
            "With --file, the YAML (name, version, type, path, description, tags, properties) says where\n"
            "the model is; a local path is read relative to the YAML and uploaded, as `az ml model create -f`.\n"
            "Without it, give --name and --path: a local file or folder (uploaded to the default datastore\n"
            "under LocalUpload/<id>/<name>), or azureml://datastores/<name>/paths/<path>."
        ),
        examples=[
            ("Register from a YAML", "studio model create --file model.yml -w my-workspace"),
            ("Register a new version of it", "studio model create --file model.yml --version 2"),
            (
                "Register a local MLflow model folder",
                "studio model create --name iris --path ./iris --type mlflow_model --tags team=flowers",
            ),
            (
                "Register a file already in a datastore",
                "studio model create -n churn --path azureml://datastores/workspaceblobstore/paths/models/churn.pkl",
            ),
        ],
        columns=COLUMNS,
    )
    versioned.add_create_arguments(
        parser, "model", types=TYPES, default_type="custom_model", tags_example="team=risk stage=dev"
    )
    parser.add_argument("--properties", nargs="*", metavar="NAME=VALUE", help="Properties, e.g. --properties auc=0.91.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List models: the newest version of each, or every version of one.",
        examples=[
            ("The newest version of each model", "studio model list -o table"),
            ("Every version of one model", "studio model list --name iris -o table"),
        ],
        columns=COLUMNS,
    )
    versioned.add_list_arguments(parser, "model")
    parser.add_argument("--archived-only", action="store_true", help="Only archived versions.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a model version, with its flavors and signature.",
        examples=[("The newest version", "studio model show -n iris --label latest")],
        columns=COLUMNS,
    )
    versioned.add_name_version(parser, "model")

    parser = add_command(
        commands,
        "download",
        handler=download,
        summary="Download a model version's files.",
        description="Download a model version's files into DOWNLOAD_PATH/<name>/ (created if needed).",
        examples=[
            ("Download version 1 into ./models/iris/", "studio model download -n iris -v 1 --download-path ./models")
        ],
        columns=[("Name", "name"), ("Version", "version"), ("Destination", "destination"), ("Files", "files")],
    )
    parser.add_argument("--download-path", "-p", default=".", help="Local folder. Default: the current folder.")
    versioned.add_name_version(parser, "model")

    versioned.add_archive_commands(
        commands, group="model", kind="models", what="model", example="iris", columns=COLUMNS
    )

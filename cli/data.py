"""`studio data`: create, list, show, archive and restore data assets, as `az ml data` does.

Local files are sent through the studio's resumable upload API in chunks, several at once (a
parallel upload): a dropped connection is retried, and a chunk the studio already holds is not
sent twice.
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from . import transfers, versioned
from .client import StudioClient
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import ApiError, CliError, UsageError

COLUMNS = [
    ("Name", "name"),
    ("Version", "version"),
    ("Type", "type"),
    ("Path", "path"),
    ("Archived", "is_archived"),
    ("CreatedOn", "created_at"),
]
TYPES = ("uri_file", "uri_folder", "mltable")
MAX_RETRIES = 8
UPLOAD_CONNECTIONS = 4  # chunks of a file sent at once


def _data_path(ctx: Context, *rest: str) -> str:
    return versioned.asset_path(ctx, "data", *rest)


def _is_local(path: str) -> bool:
    return "://" not in path and not path.startswith("azureml:")


class Progress:
    """`Uploading 42% (420.0 MB of 1.0 GB)` on stderr when it is a terminal."""

    def __init__(self, total: int, stream=None):
        self.total, self.done_before, self.stream = total, 0, stream or sys.stderr
        self.shown = -1

    def update(self, file_bytes: int) -> None:
        if not self.stream.isatty():
            return
        pct = int((self.done_before + file_bytes) * 100 / self.total) if self.total else 100
        if pct != self.shown:
            self.shown = pct
            print(f"\rUploading {pct}% of {_size(self.total)}", end="", file=self.stream, flush=True)

    def file_done(self, size: int) -> None:
        self.done_before += size

    def close(self) -> None:
        if self.stream.isatty():
            print(file=self.stream)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def upload_file(
    client: StudioClient,
    uploads_path: str,
    local: Path,
    name: str,
    *,
    on_bytes=lambda n: None,
    retries: int = MAX_RETRIES,
    sleep=time.sleep,
    connections: int = 1,
) -> str:
    """Send one file in chunks; returns the upload id. With `connections` > 1 the upload is a
    parallel one: that many chunks go at once, each on its own connection and in any order (a
    studio that does not offer parallel uploads gets them in order). A lost connection is retried
    (with backoff); an error answer from the studio is not."""
    size = local.stat().st_size
    payload = {"file_name": name, "size": size}
    if connections > 1:
        payload["parallel"] = True
    session = client.post(uploads_path, json=payload)
    url = f"{uploads_path}/{session['id']}"
    if session.get("parallel"):
        _send_in_parallel(client, url, local, session, connections, on_bytes=on_bytes, retries=retries, sleep=sleep)
        return session["id"]
    received, chunk, failures = session["received"], session["chunk_size"], 0
    with open(local, "rb") as handle:
        while received < size:
            handle.seek(received)
            data = handle.read(min(chunk, size - received))
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {received}-{received + len(data) - 1}/{size}",
            }
            try:
                received = client.request("PUT", url, content=data, headers=headers)["received"]
                failures = 0
            except ApiError as exc:
                if exc.status != 409:  # 409: another attempt got there first; ask where we are
                    raise
                received = client.get(url)["received"]
            except CliError:
                failures += 1
                if failures > retries:
                    raise CliError(f"the upload of {name} failed {failures} times in a row; giving up.")
                sleep(min(0.5 * 2**failures, 15))
                try:
                    received = client.get(url)["received"]
                except CliError:
                    pass  # still down: the next try of the chunk will tell
            on_bytes(received)
    return session["id"]


def _send_in_parallel(client, url: str, local: Path, session: dict, connections: int, *, on_bytes, retries, sleep):
    """Send every chunk the upload misses, `connections` at a time; the first failure stops the rest."""
    size, chunk = session["size"], session["chunk_size"]
    starts = iter(range(0, size, chunk))
    lock, stop = threading.Lock(), threading.Event()
    done = [0]

    def take() -> int | None:
        with lock:
            return None if stop.is_set() else next(starts, None)

    def send_chunks() -> None:
        with open(local, "rb") as handle:
            while (start := take()) is not None:
                length = min(chunk, size - start)
                try:
                    _send_chunk(client, url, handle.fileno(), start, length, size, retries=retries, sleep=sleep)
                except BaseException:
                    stop.set()
                    raise
                with lock:
                    done[0] += length
                    on_bytes(done[0])

    workers = max(1, min(connections, -(-size // chunk)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload") as pool:
        for future in [pool.submit(send_chunks) for _ in range(workers)]:
            future.result()


def _file_range(fd: int, start: int, length: int, piece: int = 1024 * 1024):
    """The bytes [start, start + length) of a file, a piece at a time (memory stays flat)."""
    end = start + length
    while start < end:
        data = os.pread(fd, min(piece, end - start), start)
        if not data:
            raise CliError("the file got shorter while it was being uploaded.")
        yield data
        start += len(data)


def _send_chunk(client, url: str, fd: int, start: int, length: int, size: int, *, retries, sleep) -> None:
    """One chunk of a parallel upload, retried (with backoff) while the connection fails. A 409
    means the studio already holds these bytes: an earlier try got through but its answer was lost."""
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
        "Content-Range": f"bytes {start}-{start + length - 1}/{size}",
    }
    failures = 0
    while True:
        try:
            client.request("PUT", url, content=_file_range(fd, start, length), headers=headers)
            return
        except ApiError as exc:
            if exc.status == 409:
                return
            raise
        except CliError:
            failures += 1
            if failures > retries:
                raise CliError(f"bytes {start}-{start + length - 1} failed {failures} times in a row; giving up.")
            sleep(min(0.5 * 2**failures, 15))


def _upload(ctx: Context, src: Path) -> tuple[list[dict], str]:
    """Upload a local file or folder; -> ([{id, path}], name). A folder's files keep their paths
    below the folder's own name, as `az ml data create` stores them (LocalUpload/<id>/<folder>/...)."""
    if not src.exists():
        raise CliError(f"No such file or folder: {src}")
    files = transfers.local_files(src)
    if not files:
        raise CliError(f"Nothing to upload: {src} holds no files.")
    prefix = "" if src.is_file() else src.resolve().name + "/"
    progress = Progress(sum(f.size for f in files))
    uploaded = []
    for file in files:
        upload_id = upload_file(
            ctx.client,
            _data_path(ctx, "uploads"),
            file.path,
            prefix + file.relative,
            on_bytes=progress.update,
            connections=UPLOAD_CONNECTIONS,
        )
        progress.file_done(file.size)
        uploaded.append({"id": upload_id, "path": prefix + file.relative})
    progress.close()
    return uploaded, src.resolve().name


def create(ctx: Context):
    args = ctx.args
    if args.file:
        source = Path(args.file)
        try:
            text = source.read_text()
        except OSError as exc:
            raise CliError(f"cannot read {source}: {exc}")
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CliError(f"{source} is not valid YAML: {exc}")
        body = {"yaml": text, "name": args.name or "", "version": args.version or ""}
        path = str((spec or {}).get("path") or "") if isinstance(spec, dict) else ""
        if path and _is_local(path):
            body["uploads"], _ = _upload(ctx, (source.parent / path))
        return ctx.client.post(_data_path(ctx), json=body)
    if not args.name or not args.path:
        raise UsageError("give --file FILE, or --name and --path.")
    body = {
        "name": args.name,
        "version": args.version,
        "type": args.type,
        "description": args.description or "",
        "tags": versioned.name_values(args.tags),
    }
    if _is_local(args.path) and not args.datastore:
        body["uploads"], _ = _upload(ctx, Path(args.path))
    else:
        body.update(path=args.path, datastore=args.datastore or "")
    return ctx.client.post(_data_path(ctx), json=body)


def list_(ctx: Context):
    params = {"include_archived": "true"} if ctx.args.include_archived else {}
    if ctx.args.name:
        return ctx.client.get(_data_path(ctx, ctx.args.name, "versions"), params=params)
    return ctx.client.get(_data_path(ctx), params=params)


def show(ctx: Context):
    return ctx.client.get(_data_path(ctx, ctx.args.name, "versions", versioned.version_of(ctx, "data", "data asset")))


def register(groups) -> None:
    commands = add_group(
        groups,
        "data",
        summary="Manage data assets.",
        description=(
            "Manage data assets: versioned references to a file (uri_file), a folder (uri_folder) or a\n"
            "table (mltable) in a datastore. Use one in a job as azureml:<name>:<version> or\n"
            "azureml:<name>@latest."
        ),
        examples=[
            ("Create a data asset from a YAML file", "studio data create --file data.yml -w my-workspace"),
            ("List the data assets of a workspace", "studio data list -o table"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Create a data asset (uploading local files).",
        description=(
            "Create a data asset from an Azure ML data YAML (--file), or from --name/--path/--type.\n\n"
            "A local path (file or folder) is uploaded to the workspace's default datastore,\n"
            "workspaceblobstore, under LocalUpload/<id>/<name>, in chunks that resume after a dropped\n"
            "connection. Any other path is an azureml://datastores/<name>/paths/<path> URI, or a path\n"
            "inside --datastore. Without --version the next number is used."
        ),
        examples=[
            ("From a YAML whose path is a local folder", "studio data create --file data.yml"),
            (
                "Upload a folder as a uri_folder",
                "studio data create --name images --path ./images --type uri_folder",
            ),
            (
                "Register a file that is already in a datastore",
                "studio data create -n titanic --type uri_file "
                "--path azureml://datastores/workspaceblobstore/paths/raw/titanic.csv",
            ),
        ],
        columns=COLUMNS,
    )
    versioned.add_create_arguments(
        parser, "data", types=TYPES, default_type="uri_folder", tags_example="source=kaggle stage=raw"
    )
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List data assets (every version), or the versions of one.",
        examples=[("List the versions of one asset", "studio data list --name titanic -o table")],
        columns=COLUMNS,
    )
    versioned.add_list_arguments(parser, "data asset")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a data asset version.",
        examples=[("The newest version that is not archived", "studio data show -n titanic --label latest")],
        columns=COLUMNS,
    )
    versioned.add_name_version(parser, "data asset")

    versioned.add_archive_commands(
        commands, group="data", kind="data", what="data asset", example="titanic", columns=COLUMNS
    )

"""`studio job`: submit Azure ML command jobs from YAML with their code and local inputs, follow their
log live, list, show, cancel, archive and restore them and download their outputs (as `az ml job`)."""

import json
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import yaml

from . import output, snapshot, transfers
from .client import api_path
from .commands import Context, add_command, add_group, add_workspace_option
from .errors import ApiError, CliError, UsageError
from .sse import parse_events

COLUMNS = [
    ("Name", "name"),
    ("DisplayName", "display_name"),
    ("Status", "status"),
    ("Experiment", "experiment_name"),
    ("Compute", "compute"),
    ("CreatedAt", "created_at"),
]
TERMINAL = ("Completed", "Failed", "Canceled")
# A path on this machine, as the studio tells them apart: not a URI nor an asset reference.
REMOTE = re.compile(r"^(azureml:|https?://|wasbs?://|abfss?://|s3://)")
STREAM_TIMEOUT = httpx.Timeout(60.0, connect=10.0)  # the stream sends a keep-alive every 15 s
POLL_SECONDS = 0.5
GIVE_UP_AFTER = 300.0  # seconds without reaching the studio before `stream` stops retrying


class JobEnded(CliError):
    """The job ended Failed or Canceled: exit code 1, its status and reason printed."""


def _jobs(ctx: Context, *rest: str) -> str:
    return api_path("workspaces", ctx.workspace, "jobs", *rest)


# -- create -----------------------------------------------------------------------------------------


def _parse_set(values: list[str]) -> list[tuple[list[str], object]]:
    """`--set a.b=value`: the path and the value read as YAML (so 5 is a number and true a boolean)."""
    parsed = []
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set: expected name=value, got {item!r}.")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        parsed.append(([part for part in key.strip().split(".") if part], value))
    return parsed


def apply_overrides(raw: dict, overrides: list[tuple[list[str], object]]) -> dict:
    for path, value in overrides:
        target = raw
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[path[-1]] = value
    return raw


def _local(path) -> bool:
    return isinstance(path, str) and bool(path) and not REMOTE.match(path)


def _read_spec(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--file: no such file: {path}")
    except UnicodeDecodeError:
        raise UsageError(f"--file: {path} is not UTF-8 text.")


def submission_parts(spec_path: Path, raw: dict, stack: ExitStack) -> list:
    """The multipart parts besides the spec: the code folder, local inputs and a local conda file,
    each found relative to the YAML, as `az ml job create` does."""
    base = spec_path.parent
    parts = []
    code = raw.get("code")
    if isinstance(code, str) and code.strip():
        if not _local(code):
            raise CliError(f"code: {code!r} is not a local folder; registered code assets are not supported here.")
        folder = base / code
        if not folder.exists():
            raise CliError(f"code: no such folder: {folder}")
        parts.append(("code", ("code.zip", stack.enter_context(snapshot.zip_folder(folder, ignore_rules=True)))))
    for name, value in (raw.get("inputs") or {}).items():
        path = value.get("path") if isinstance(value, dict) else None
        if not _local(path):
            continue
        local = base / path
        if local.is_file():
            parts.append((f"inputs.{name}", (local.name, stack.enter_context(open(local, "rb")))))
        elif local.is_dir():
            parts.append(
                (
                    f"inputs.{name}",
                    (f"{local.name}.zip", stack.enter_context(snapshot.zip_folder(local, ignore_rules=False))),
                )
            )
        else:
            raise CliError(f"inputs.{name}.path: no such file or folder: {local}")
    environment = raw.get("environment")
    conda = environment.get("conda_file") if isinstance(environment, dict) else None
    if isinstance(conda, str) and _local(conda):
        try:
            parts.append(("conda_file", (Path(conda).name, (base / conda).read_bytes())))
        except FileNotFoundError:
            raise CliError(f"environment.conda_file: no such file: {base / conda}")
    return parts


def create(ctx: Context):
    args = ctx.args
    spec_path = Path(args.file)
    text = _read_spec(spec_path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        raw = None  # sent as it is: the studio names the line
    overrides = _parse_set(args.set or [])
    if args.name:
        overrides.append((["name"], args.name))
    if isinstance(raw, dict) and overrides:
        text = yaml.safe_dump(apply_overrides(raw, overrides), sort_keys=False)
    with ExitStack() as stack:
        parts = submission_parts(spec_path, raw, stack) if isinstance(raw, dict) else []
        if parts:
            files = [("spec", (spec_path.name, text.encode(), "application/x-yaml")), *parts]
            job = ctx.client.post(_jobs(ctx), files=files)
        else:
            job = ctx.client.post(_jobs(ctx), json={"spec": text})
    if not args.stream:
        return job
    sys.stdout.write(output.render(job, args.output, args.columns))
    sys.stdout.flush()
    args.output = "none"
    _follow(ctx, job["name"])
    return None


# -- stream -----------------------------------------------------------------------------------------


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _stream_once(ctx: Context, name: str, state: dict) -> bool:
    """Read the job's SSE stream from state["offset"] until it ends (True) or closes; the offset and the
    job's status are kept in `state` as they arrive, so a dropped connection resumes where it stopped."""
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if state["offset"]:
        headers["Last-Event-ID"] = str(state["offset"])
    with ctx.client.stream("GET", _jobs(ctx, name, "stream"), headers=headers, timeout=STREAM_TIMEOUT) as response:
        for event in parse_events(response.iter_lines()):
            if event.event == "log":
                _write(event.data)
                if event.id and event.id.isdigit():
                    state["offset"] = int(event.id)
            elif event.event in ("status", "end"):
                try:
                    state.update(json.loads(event.data))
                except ValueError:
                    pass
                if event.event == "end":
                    return True
    return False


def _poll_log(ctx: Context, name: str, state: dict) -> None:
    """Without a stream route: read the stored log from the /log endpoint until the job has ended."""
    offset = 0
    while True:
        with ctx.client.stream("GET", _jobs(ctx, name, "log"), params={"from": offset}) as response:
            response.read()
            text = response.text
            offset = int(response.headers.get("X-Next-Offset", offset))
            complete = response.headers.get("X-Log-Complete") == "true"
        _write(text)
        if complete:
            job = ctx.client.get(_jobs(ctx, name))
            state.update(status=job["status"], reason=job["status_reason"])
            return
        if not text:
            time.sleep(POLL_SECONDS)


def _follow(ctx: Context, name: str) -> dict:
    """Print the job's log live until it ends, reconnecting (from the last offset received) when the
    connection drops; exit 1 if it did not complete."""
    job = ctx.client.get(_jobs(ctx, name))  # a missing job is an error here, not a missing route
    state = {"status": job["status"], "reason": job["status_reason"], "offset": 0}
    failing_since, delay = None, 0.5
    while True:
        try:
            if _stream_once(ctx, name, state):
                break
            failing_since, delay = None, 0.5
        except ApiError as exc:
            if exc.status == 404 and state["offset"] == 0:
                _poll_log(ctx, name, state)  # a studio without the stream route
                break
            if exc.status < 500:
                raise
            failing_since = failing_since or time.monotonic()
        except CliError:  # the connection dropped or the studio is restarting
            failing_since = failing_since or time.monotonic()
        if failing_since and time.monotonic() - failing_since > GIVE_UP_AFTER:
            raise CliError(
                f"Lost the connection to the studio for {GIVE_UP_AFTER:.0f} s; run `studio job stream -n {name}` to resume."
            )
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    _summary(ctx, name, state)
    return state


def _summary(ctx: Context, name: str, state: dict) -> None:
    status, reason = state.get("status", ""), state.get("reason") or ""
    lines = ["", "Execution Summary", "=================", f"RunId: {name}", f"Status: {status}"]
    if reason:
        lines.append(f"Reason: {reason}")
    lines.append(f"Web View: {ctx.client.url}/workspaces/{ctx.workspace}/jobs/{name}/")
    _write("\n".join(lines) + "\n")
    if status != "Completed":
        raise JobEnded(f"Job {name} ended {status}" + (f": {reason}" if reason else "."))


def stream(ctx: Context):
    _follow(ctx, _name(ctx))
    return None


# -- show, list, cancel ----------------------------------------------------------------------------


def show(ctx: Context):
    return ctx.client.get(_jobs(ctx, _name(ctx)))


def list_(ctx: Context):
    args = ctx.args
    params = {
        key: value
        for key, value in {
            "status": args.status,
            "experiment": args.experiment_name,
            "compute": args.compute,
            "tag": args.tag,
            "search": args.search,
            "sort": args.sort,
            "include_archived": "true" if args.include_archived else None,
        }.items()
        if value
    }
    wanted = None if args.all_results else args.max_results
    params["limit"] = min(wanted or 200, 200)
    jobs: list = []
    page = ctx.client.get(_jobs(ctx), params=params)
    while True:
        jobs += page["value"]
        if not page["next_link"] or (wanted is not None and len(jobs) >= wanted):
            break
        page = ctx.client.get(page["next_link"])
    return jobs[:wanted] if wanted is not None else jobs


def cancel(ctx: Context):
    return ctx.client.post(_jobs(ctx, _name(ctx), "cancel"))


def archive(ctx: Context):
    return ctx.client.post(_jobs(ctx, _name(ctx), "archive"))


def restore(ctx: Context):
    return ctx.client.post(_jobs(ctx, _name(ctx), "restore"))


# -- download --------------------------------------------------------------------------------------


def _save(ctx: Context, path: str, params: dict, target: Path) -> list[Path]:
    """GET a file (saved as `target`) or a folder (a zip, extracted into `target`)."""
    with ctx.client.stream("GET", path, params=params) as response:
        if response.headers.get("content-type", "").startswith("application/zip"):
            with tempfile.TemporaryFile() as spool:
                for chunk in response.iter_bytes(transfers.CHUNK):
                    spool.write(chunk)
                spool.seek(0)
                return transfers.extract_zip(spool, target)
        transfers.save_stream(response.iter_bytes(transfers.CHUNK), target)
        return [target]


def _download_artifacts(ctx: Context, name: str, dest: Path) -> list[Path]:
    """The job's logs and ./outputs (not its code) into <dest>/artifacts, as `az ml job download`."""
    written: list[Path] = []
    for entry in ctx.client.get(_jobs(ctx, name, "files")):
        if entry["name"] == "code":
            continue
        target = dest / "artifacts" / entry["name"]
        written += _save(ctx, _jobs(ctx, name, "files", "content"), {"path": entry["path"]}, target)
    return written


def _download_output(ctx: Context, job: dict, output_name: str, dest: Path) -> list[Path]:
    """A named output from its datastore path into <dest>/named-outputs/<name>."""
    uri = job["outputs"][output_name]["path"]
    match = re.match(r"^azureml://datastores/([^/]+)/paths/(.*)$", uri)
    if not match:
        raise CliError(f"Output {output_name} is at {uri}, which is not a datastore path.")
    datastore, path = match[1], match[2].rstrip("/")
    target = dest / "named-outputs" / output_name
    files_path = api_path("workspaces", ctx.workspace, "datastores", datastore, "files", "content")
    return _save(ctx, files_path, {"path": path}, target)


def download(ctx: Context):
    args = ctx.args
    if args.all and args.output_name:
        raise UsageError("give --all or --output-name, not both.")
    name = _name(ctx)
    job = ctx.client.get(_jobs(ctx, name))
    dest = Path(args.download_path)
    if dest.exists() and not dest.is_dir():
        raise CliError(f"--download-path must be a folder, and {dest} is a file.")
    written: list[Path] = []
    if args.output_name and args.output_name != "default":
        if args.output_name not in job["outputs"]:
            known = ", ".join(sorted(job["outputs"])) or "none"
            raise CliError(f"Job {name} has no output named {args.output_name!r} (its outputs: {known}).")
        written += _download_output(ctx, job, args.output_name, dest)
    else:
        written += _download_artifacts(ctx, name, dest)
        if args.all:
            for output_name in job["outputs"]:
                try:
                    written += _download_output(ctx, job, output_name, dest)
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    print(f"WARNING: output {output_name} has no files.", file=sys.stderr)
    return {
        "name": name,
        "download_path": str(dest),
        "files": len(written),
        "downloaded": [str(path) for path in written],
    }


def _name_arguments(parser) -> None:
    parser.add_argument("job", nargs="?", metavar="NAME", help="Job name (or --name).")
    parser.add_argument("--name", "-n", help="Job name.")


def _name(ctx: Context) -> str:
    name = ctx.args.name or getattr(ctx.args, "job", None)
    if not name:
        raise UsageError("the following arguments are required: --name/-n (or the job name).")
    if ctx.args.name and getattr(ctx.args, "job", None) and ctx.args.job != ctx.args.name:
        raise UsageError("give the job name once: as NAME or as --name.")
    return name


# -- the group -------------------------------------------------------------------------------------


def register(groups) -> None:
    commands = add_group(
        groups,
        "job",
        summary="Submit and manage jobs: scripts run on compute clusters.",
        description=(
            "Submit and manage command jobs. A job's spec is Azure ML CLI v2 YAML (type: command); its code\n"
            "folder, local inputs and local conda file are uploaded with it. Statuses are Azure ML's:\n"
            "NotStarted, Starting, Preparing, Queued, Running, Finalizing, Completed, Failed, CancelRequested,\n"
            "Canceled."
        ),
        examples=[
            ("Submit a job and follow its log", "studio job create --file job.yml --stream"),
            ("List the running jobs", "studio job list --status Running -o table"),
        ],
    )

    parser = add_command(
        commands,
        "create",
        handler=create,
        summary="Submit a job from Azure ML YAML, with its code and local inputs.",
        description=(
            "Submit a job, as `az ml job create --file`. The folder the YAML's `code:` names (relative to the\n"
            "YAML) is zipped without what its .amlignore (else .gitignore) leaves out; inputs with a local\n"
            "`path:` and an inline environment's local `conda_file:` are uploaded too. --set changes a field\n"
            "of the YAML before it is sent (e.g. --set inputs.learning_rate=0.01 compute=gpu-cluster).\n"
            "With --stream, the log is printed as it is written until the job ends; the exit code is then 1\n"
            "if the job did not complete."
        ),
        examples=[
            ("Submit a job", "studio job create --file job.yml -w my-workspace"),
            ("Change an input and follow the log", "studio job create -f job.yml --set inputs.epochs=3 --stream"),
        ],
        columns=COLUMNS,
    )
    parser.add_argument("--file", "-f", required=True, metavar="YAML", help="The job's Azure ML YAML.")
    parser.add_argument("--name", "-n", help="The job's name (overrides the YAML's; default: a generated one).")
    parser.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help="Change a field of the YAML (dotted path); repeatable."
    )
    parser.add_argument("--stream", "-s", action="store_true", help="Print the log until the job ends.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "show",
        handler=show,
        summary="Show a job: status and timeline, inputs, outputs, environment, compute.",
        examples=[("Show a job", "studio job show -n frosty_pear_v2k4lh3m")],
        columns=COLUMNS,
    )
    _name_arguments(parser)
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "list",
        handler=list_,
        summary="List jobs, newest first.",
        examples=[
            ("The last 50 jobs", "studio job list -o table"),
            ("Failed jobs of an experiment", "studio job list --status Failed --experiment-name iris -o table"),
        ],
        columns=COLUMNS,
    )
    parser.add_argument("--max-results", "-r", type=int, default=50, metavar="N", help="At most N jobs. Default: 50.")
    parser.add_argument("--all-results", action="store_true", help="Every job (ignores --max-results).")
    parser.add_argument("--status", help="A status, or several comma separated (e.g. Running,Queued).")
    parser.add_argument("--experiment-name", help="Only jobs of this experiment.")
    parser.add_argument("--compute", help="Only jobs on this compute.")
    parser.add_argument("--tag", help="Only jobs with this tag: key or key=value.")
    parser.add_argument("--search", help="Part of the name or display name.")
    parser.add_argument(
        "--sort",
        choices=["-created", "created", "name", "-name", "status", "-status", "duration", "-duration"],
        help="Order. Default: -created (newest first).",
    )
    parser.add_argument("--include-archived", action="store_true", help="Also archived jobs.")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "stream",
        handler=stream,
        summary="Print a job's log as it is written, until the job ends.",
        description=(
            "Print the job's log from the start and follow it until the job ends, reconnecting where it\n"
            "stopped if the connection drops. Exits 0 if the job completed, 1 if it failed or was canceled."
        ),
        examples=[("Follow a job", "studio job stream -n frosty_pear_v2k4lh3m")],
    )
    _name_arguments(parser)
    parser.set_defaults(output="none")
    add_workspace_option(parser)

    parser = add_command(
        commands,
        "cancel",
        handler=cancel,
        summary="Cancel a job.",
        examples=[("Cancel a job", "studio job cancel -n frosty_pear_v2k4lh3m")],
        columns=COLUMNS,
    )
    _name_arguments(parser)
    add_workspace_option(parser)

    for command, handler, summary in (
        (
            "archive",
            archive,
            "Archive a job: hidden from the jobs list (unless --include-archived); nothing is deleted.",
        ),
        ("restore", restore, "Restore an archived job to the jobs list."),
    ):
        parser = add_command(
            commands,
            command,
            handler=handler,
            summary=summary,
            examples=[(f"{command.capitalize()} a job", f"studio job {command} -n frosty_pear_v2k4lh3m")],
            columns=COLUMNS,
        )
        _name_arguments(parser)
        add_workspace_option(parser)

    parser = add_command(
        commands,
        "download",
        handler=download,
        summary="Download a job's logs and outputs.",
        description=(
            "Download a job's files, as `az ml job download`: by default its logs and ./outputs into\n"
            "<download-path>/artifacts/; --output-name X the named output X into\n"
            "<download-path>/named-outputs/X/; --all both, for every named output."
        ),
        examples=[
            ("Logs and ./outputs", "studio job download -n frosty_pear_v2k4lh3m"),
            ("One named output", "studio job download -n frosty_pear_v2k4lh3m --output-name model -p ./out"),
        ],
        columns=[("Name", "name"), ("DownloadPath", "download_path"), ("Files", "files")],
    )
    _name_arguments(parser)
    parser.add_argument("--all", action="store_true", help="The logs, ./outputs and every named output.")
    parser.add_argument("--output-name", metavar="NAME", help="One named output ('default': logs and ./outputs).")
    parser.add_argument(
        "--download-path", "-p", default=".", metavar="FOLDER", help="Where to save. Default: the current folder."
    )
    add_workspace_option(parser)

"""The local side of `studio job`: the code snapshot and its ignore rules, --set, the parts sent with a
spec, the SSE reader, and following a stream that drops (against a fake studio over httpx)."""

import io
import json
import zipfile
from contextlib import ExitStack

import httpx
import pytest

from cli import job as job_cli
from cli.client import StudioClient
from cli.commands import Context
from cli.errors import CliError, UsageError
from cli.snapshot import IgnoreRules, snapshot_files, zip_folder
from cli.sse import parse_events


def make_files(root, files: dict[str, str]) -> None:
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)


# Ignore rules, as .gitignore.


@pytest.mark.parametrize(
    ("patterns", "path", "is_folder", "ignored"),
    [
        (["*.pyc"], "a/b/c.pyc", False, True),
        (["*.pyc"], "a/b/c.py", False, False),
        (["data/"], "data", True, True),
        (["data/"], "data", False, False),  # a trailing slash matches folders only
        (["data/"], "src/data", True, True),  # no slash inside: at any depth
        (["/data"], "src/data", True, False),  # a leading slash anchors to the folder
        (["/data"], "data", True, True),
        (["docs/*.md"], "docs/a.md", False, True),
        (["docs/*.md"], "docs/sub/a.md", False, False),
        (["**/logs"], "a/b/logs", True, True),
        (["a/**/z.txt"], "a/b/c/z.txt", False, True),
        (["a/**/z.txt"], "a/z.txt", False, True),
        (["*.log", "!keep.log"], "keep.log", False, False),
        (["*.log", "!keep.log"], "x/drop.log", False, True),
        (["# comment", "", "  "], "# comment", False, False),
        (["file?.txt"], "file1.txt", False, True),
        (["file[0-9].txt"], "filex.txt", False, False),
    ],
)
def test_ignore_rules_follow_gitignore(patterns, path, is_folder, ignored):
    assert IgnoreRules(patterns).ignored(path, is_folder=is_folder) is ignored


def test_snapshot_uses_amlignore_before_gitignore_and_prunes_ignored_folders(tmp_path):
    make_files(
        tmp_path,
        {
            "train.py": "",
            "pkg/util.py": "",
            "data/big.csv": "",
            "data/keep.csv": "",
            ".amlignore": "data/\n",
            ".gitignore": "pkg/\n",
        },
    )
    assert [relative for _, relative in snapshot_files(tmp_path)] == [
        ".amlignore",
        ".gitignore",
        "pkg/util.py",
        "train.py",
    ]
    (tmp_path / ".amlignore").unlink()
    assert [relative for _, relative in snapshot_files(tmp_path)] == [
        ".gitignore",
        "data/big.csv",
        "data/keep.csv",
        "train.py",
    ]


def test_zip_folder_holds_the_contents_relative_to_the_folder(tmp_path):
    make_files(tmp_path, {"src/a.py": "A", "src/sub/b.py": "B", "src/x.tmp": "X", "src/.amlignore": "*.tmp\n"})
    with zip_folder(tmp_path / "src", ignore_rules=True) as spool, zipfile.ZipFile(spool) as archive:
        assert sorted(archive.namelist()) == [".amlignore", "a.py", "sub/b.py"]
        assert archive.read("sub/b.py") == b"B"


# --set and the parts of a submission.


def test_set_reads_values_as_yaml_and_builds_nested_fields():
    raw = {"inputs": {"lr": 0.1}, "display_name": "x"}
    overrides = job_cli._parse_set(["inputs.lr=0.5", "limits.timeout=30", "display_name=new name", "tags.a=true"])
    assert job_cli.apply_overrides(raw, overrides) == {
        "inputs": {"lr": 0.5},
        "display_name": "new name",
        "limits": {"timeout": 30},
        "tags": {"a": True},
    }


@pytest.mark.parametrize("bad", ["novalue", "=5", ""])
def test_set_without_a_name_is_a_usage_error(bad):
    with pytest.raises(UsageError):
        job_cli._parse_set([bad])


def test_parts_are_found_relative_to_the_yaml(tmp_path):
    make_files(
        tmp_path,
        {
            "jobs/src/train.py": "print()",
            "jobs/data/train.csv": "a,b",
            "jobs/images/cat.png": "png",
            "jobs/env/conda.yml": "dependencies: [python=3.11]",
        },
    )
    raw = {
        "code": "src",
        "inputs": {
            "table": {"type": "uri_file", "path": "data/train.csv"},
            "images": {"type": "uri_folder", "path": "./images"},
            "remote": {"type": "uri_file", "path": "azureml://datastores/workspaceblobstore/paths/x.csv"},
            "asset": {"type": "uri_folder", "path": "azureml:iris:1"},
            "lr": 0.1,
        },
        "environment": {"image": "python", "conda_file": "env/conda.yml"},
    }
    with ExitStack() as stack:
        parts = dict(job_cli.submission_parts(tmp_path / "jobs" / "job.yml", raw, stack))
        assert sorted(parts) == ["code", "conda_file", "inputs.images", "inputs.table"]
        assert parts["inputs.table"][1].read() == b"a,b"
        assert parts["conda_file"][1] == b"dependencies: [python=3.11]"
        with zipfile.ZipFile(parts["inputs.images"][1]) as archive:
            assert archive.namelist() == ["cat.png"]
        with zipfile.ZipFile(parts["code"][1]) as archive:
            assert archive.namelist() == ["train.py"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"code": "missing"}, "code: no such folder"),
        ({"inputs": {"t": {"type": "uri_file", "path": "nope.csv"}}}, "inputs.t.path: no such file"),
        ({"environment": {"image": "x", "conda_file": "nope.yml"}}, "environment.conda_file: no such file"),
    ],
)
def test_missing_local_files_name_the_field(tmp_path, raw, message):
    with ExitStack() as stack, pytest.raises(CliError, match=message):
        job_cli.submission_parts(tmp_path / "job.yml", raw, stack)


# Server-Sent Events.


def test_sse_events_join_data_lines_and_skip_comments():
    lines = [
        "retry: 2000",
        "",
        "event: status",
        'data: {"status": "Running"}',
        "",
        ": keep-alive",
        "",
        "event: log",
        "id: 12",
        "data: line one",
        "data: ",
        "",
        "event: log",
        "id: 20",
        "data:no space",
        "",
    ]
    events = list(parse_events(lines))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("status", '{"status": "Running"}', None),
        ("log", "line one\n", "12"),
        ("log", "no space", "20"),
    ]


# Following a stream that drops, against a fake studio.


class FakeStudio:
    """Answers the job and its stream; the first stream connection drops after `cut_after` events."""

    def __init__(self, log: str, *, status="Completed", reason="", cut_after=2, stream=True):
        self.log = log.encode()
        self.status, self.reason = status, reason
        self.cut_after, self.stream = cut_after, stream
        self.stream_requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/jobs/j1"):
            return httpx.Response(200, json={"name": "j1", "status": "Running", "status_reason": ""})
        if path.endswith("/jobs/j1/stream"):
            if not self.stream:
                return httpx.Response(404, json={"error": {"code": "NotFound", "message": "Not found."}})
            self.stream_requests.append(request)
            start = int(request.headers.get("Last-Event-ID") or 0)
            return httpx.Response(200, stream=self._events(start, first=len(self.stream_requests) == 1))
        if path.endswith("/jobs/j1/log"):
            start = int(request.url.params.get("from", 0))
            text = self.log[start : start + 7]
            headers = {
                "X-Next-Offset": str(start + len(text)),
                "X-Log-Complete": str(start + len(text) >= len(self.log)).lower(),
            }
            return httpx.Response(200, content=text, headers=headers)
        return httpx.Response(404)

    def _events(self, start: int, *, first: bool):
        fake = self

        class Body(httpx.SyncByteStream):
            def __iter__(self):
                yield b'retry: 1000\n\nevent: status\ndata: {"status": "Running", "reason": ""}\n\n'
                offset, sent = start, 0
                lines = fake.log[start:].split(b"\n")
                for i, line in enumerate(lines):
                    piece = line + (b"\n" if i < len(lines) - 1 else b"")
                    if not piece:
                        continue
                    offset += len(piece)
                    data = b"".join(b"data: " + part + b"\n" for part in piece.split(b"\n"))
                    yield b"event: log\nid: " + str(offset).encode() + b"\n" + data + b"\n"
                    sent += 1
                    if first and sent == fake.cut_after:
                        raise httpx.ReadError("connection reset by peer")
                end = json.dumps({"status": fake.status, "reason": fake.reason}).encode()
                yield b"event: end\ndata: " + end + b"\n\n"

        return Body()


def follow(fake: FakeStudio, capsys, monkeypatch):
    monkeypatch.setattr(job_cli.time, "sleep", lambda seconds: None)
    client = StudioClient("http://studio.test", "token", transport=httpx.MockTransport(fake.handler))
    args = type("Args", (), {"workspace_name": "ws", "name": "j1"})()
    try:
        job_cli.stream(Context(args=args, client=client))
        error = None
    except CliError as exc:
        error = exc
    return capsys.readouterr().out, error


def test_stream_resumes_after_a_dropped_connection_without_losing_or_doubling_lines(capsys, monkeypatch):
    log = "".join(f"line {i}\n" for i in range(1, 6))
    fake = FakeStudio(log, cut_after=2)
    out, error = follow(fake, capsys, monkeypatch)
    assert error is None
    assert out.startswith(log)
    assert "Status: Completed" in out
    assert [r.headers.get("Last-Event-ID") for r in fake.stream_requests] == [None, str(len("line 1\nline 2\n"))]


def test_stream_of_a_failed_job_exits_1_with_its_reason(capsys, monkeypatch):
    fake = FakeStudio("Traceback\n", status="Failed", reason="The command exited with code 1.", cut_after=99)
    out, error = follow(fake, capsys, monkeypatch)
    assert isinstance(error, job_cli.JobEnded) and error.exit_code == 1
    assert "ended Failed: The command exited with code 1." in str(error)
    assert "Traceback\n" in out and "Reason: The command exited with code 1." in out


def test_stream_falls_back_to_polling_the_log_without_a_stream_route(capsys, monkeypatch):
    log = "".join(f"line {i}\n" for i in range(1, 4))
    fake = FakeStudio(log, stream=False)

    def handler(request):
        if request.url.path.endswith("/jobs/j1") and fake.polled:
            return httpx.Response(200, json={"name": "j1", "status": "Completed", "status_reason": ""})
        if request.url.path.endswith("/log"):
            fake.polled = True
        return FakeStudio.handler(fake, request)

    fake.polled = False
    fake.handler = handler
    out, error = follow(fake, capsys, monkeypatch)
    assert error is None
    assert out.startswith(log) and "Status: Completed" in out


def test_download_of_an_unknown_output_names_the_outputs(monkeypatch, tmp_path):
    def handler(request):
        return httpx.Response(200, json={"name": "j1", "outputs": {"model": {"type": "uri_folder", "path": "x"}}})

    client = StudioClient("http://studio.test", "token", transport=httpx.MockTransport(handler))
    args = type(
        "Args",
        (),
        {"workspace_name": "ws", "name": "j1", "all": False, "output_name": "nope", "download_path": str(tmp_path)},
    )()
    with pytest.raises(CliError, match="its outputs: model"):
        job_cli.download(Context(args=args, client=client))


def test_zip_members_from_the_studio_that_leave_the_folder_are_refused(tmp_path):
    from cli.transfers import extract_zip

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "x")
    buffer.seek(0)
    with pytest.raises(CliError, match="outside the folder"):
        extract_zip(buffer, tmp_path / "dl")
    assert not (tmp_path / "evil.txt").exists()

"""jobs/streams.py: a job's log as Server-Sent Events, resumable from any event id without losing or
doubling a byte (SECURITY.md 21, 25), and the status with it."""

import asyncio
import json

import pytest

from jobs.models import Experiment, Job, JobLogChunk, JobStatus
from jobs.streams import JobLogStream

# The stream reads through sync_to_async in another thread: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def parse(raw: str) -> list[dict]:
    """SSE text -> events as a browser's EventSource sees them: {"event", "id", "data"}."""
    events = []
    for block in raw.split("\n\n"):
        event = {"event": "message", "id": None, "data": []}
        seen = False
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                event["data"].append(value)
                seen = True
            elif field in ("event", "id"):
                event[field] = value
                seen = True
        if seen:
            events.append({**event, "data": "\n".join(event["data"])})
    return events


def make_job(workspace, status=JobStatus.RUNNING, reason="") -> Job:
    experiment, _ = Experiment.objects.get_or_create(workspace=workspace, name="Default")
    return Job.objects.create(
        workspace=workspace, name="streamed", experiment=experiment, status=status, status_reason=reason
    )


def add_chunks(job: Job, *texts: str) -> None:
    offset = job.log_size
    for text in texts:
        JobLogChunk.objects.create(job=job, offset=offset, text=text)
        offset += len(text.encode())
    Job.objects.filter(pk=job.pk).update(log_size=offset)
    job.log_size = offset


async def _collect(stream: JobLogStream, *, stop_after_logs: int | None = None) -> list[dict]:
    raw, logs = "", 0
    async for piece in stream.events():
        raw += piece
        logs += sum(1 for e in parse(piece) if e["event"] == "log")
        if stop_after_logs is not None and logs >= stop_after_logs:
            break
    return parse(raw)


def collect(job: Job, offset: int = 0, **options) -> list[dict]:
    stop = options.pop("stop_after_logs", None)
    stream = JobLogStream(job.pk, offset=offset, poll_interval=0.01, **options)
    return asyncio.run(_collect(stream, stop_after_logs=stop))


def test_a_finished_job_streams_its_status_the_whole_log_and_the_end(workspace):
    job = make_job(workspace, status=JobStatus.COMPLETED)
    add_chunks(job, "first line\nsecond ", "half\n", "ünïcode ✓\n")
    events = collect(job)
    assert [e["event"] for e in events] == ["status", "log", "end"]
    assert json.loads(events[0]["data"]) == {"status": "Completed", "reason": ""}
    assert events[1]["data"] == "first line\nsecond half\nünïcode ✓\n"
    assert int(events[1]["id"]) == job.log_size
    assert json.loads(events[-1]["data"])["status"] == "Completed"


def test_resuming_from_each_event_id_gives_back_exactly_the_rest(workspace, monkeypatch):
    job = make_job(workspace, status=JobStatus.FAILED, reason="The command exited with code 1.")
    texts = [f"line {i:03d} ✓\n" if i % 7 else f"partial {i} " for i in range(60)]
    add_chunks(job, *texts)
    expected = "".join(texts)
    monkeypatch.setattr("jobs.streams.READ_LIMIT", 40)  # small reads: many events, many ids to resume from
    events = [e for e in collect(job) if e["event"] == "log"]
    assert len(events) > 10
    for event in events:
        rest = "".join(e["data"] for e in collect(job, offset=int(event["id"])) if e["event"] == "log")
        assert expected.encode()[: int(event["id"])].decode() + rest == expected


def test_a_client_that_hangs_up_and_reconnects_with_its_last_event_id_loses_and_doubles_nothing(workspace, monkeypatch):
    job = make_job(workspace, status=JobStatus.COMPLETED)
    texts = [f"{i}\n" * (i % 5 + 1) for i in range(200)]
    add_chunks(job, *texts)
    monkeypatch.setattr("jobs.streams.READ_LIMIT", 64)
    received, offset, connections = "", 0, 0
    while True:
        connections += 1
        events = collect(job, offset, stop_after_logs=3)
        logs = [e for e in events if e["event"] == "log"]
        received += "".join(e["data"] for e in logs)
        if logs:
            offset = int(logs[-1]["id"])
        if any(e["event"] == "end" for e in events) or not logs:
            break
    assert connections > 5
    assert received == "".join(texts)


def test_an_offset_inside_a_chunk_resumes_at_that_byte(workspace):
    job = make_job(workspace, status=JobStatus.COMPLETED)
    add_chunks(job, "abcdef\n", "ghi\n")
    events = [e for e in collect(job, offset=3) if e["event"] == "log"]
    assert "".join(e["data"] for e in events) == "def\nghi\n"
    assert events[-1]["id"] == str(job.log_size)


def test_status_changes_are_sent_as_they_happen_and_the_end_follows_the_last_line(workspace):
    job = make_job(workspace, status=JobStatus.QUEUED)

    async def scenario():
        stream = JobLogStream(job.pk, poll_interval=0.01)
        seen = []
        from asgiref.sync import sync_to_async

        async for piece in stream.events():
            seen += parse(piece)
            kinds = [e["event"] for e in seen]
            if kinds == ["status"]:
                await sync_to_async(Job.objects.filter(pk=job.pk).update)(status=JobStatus.RUNNING)
            elif kinds == ["status", "status"]:
                await sync_to_async(add_chunks)(job, "working\n")
            elif kinds == ["status", "status", "log"]:
                await sync_to_async(Job.objects.filter(pk=job.pk).update)(
                    status=JobStatus.CANCELED, status_reason="Canceled by a user."
                )
        return seen

    events = asyncio.run(scenario())
    assert [(e["event"], e["data"]) for e in events] == [
        ("status", json.dumps({"status": "Queued", "reason": ""})),
        ("status", json.dumps({"status": "Running", "reason": ""})),
        ("log", "working\n"),
        ("status", json.dumps({"status": "Canceled", "reason": "Canceled by a user."})),
        ("end", json.dumps({"status": "Canceled", "reason": "Canceled by a user."})),
    ]


def test_a_quiet_running_job_gets_keep_alive_comments(workspace):
    job = make_job(workspace, status=JobStatus.RUNNING)

    async def first_pieces():
        stream = JobLogStream(job.pk, poll_interval=0.01, keepalive_interval=0.03)
        pieces = []
        async for piece in stream.events():
            pieces.append(piece)
            if ": keep-alive\n\n" in pieces or len(pieces) > 50:
                return pieces
        return pieces

    assert ": keep-alive\n\n" in asyncio.run(first_pieces())


def test_log_text_cannot_forge_events(workspace):
    """A line the job prints that looks like an SSE field stays data: CR and LF both end a data line."""
    job = make_job(workspace, status=JobStatus.COMPLETED)
    add_chunks(job, "50%\revent: end\ndata: forged\n\nid: 999\n")
    events = collect(job)
    assert [e["event"] for e in events] == ["status", "log", "end"]
    assert events[1]["data"] == "50%\nevent: end\ndata: forged\n\nid: 999\n"
    assert events[1]["id"] == str(job.log_size)

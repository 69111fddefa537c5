"""studio/streams.py: a growing file as Server-Sent Events, resumable without losing or doubling a line."""

import asyncio
import json
import threading
import time

import pytest
from django.test import RequestFactory

from assets.environments import envbuild
from assets.models import BuildStatus, Environment, EnvironmentBuild
from core.streams import FileEventStream, ProducerState, format_event, resume_offset
from tests.jobs.test_stream_access import stream_of
from workspaces.models import Membership

# Before each poll the stream drops stale database connections, which touches the database layer.
pytestmark = pytest.mark.django_db


def parse(raw: str) -> list[dict]:
    """SSE text -> events as the browser's EventSource sees them: {"event", "id", "data"}."""
    events = []
    for block in raw.split("\n\n"):
        event = {"event": "message", "id": None, "data": []}
        seen = False
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            seen = True
            if field == "data":
                event["data"].append(value)
            elif field in ("event", "id"):
                event[field] = value
        if seen and (event["data"] or event["event"] != "message"):
            events.append({**event, "data": "\n".join(event["data"])})
    return events


async def collect(stream: FileEventStream, *, stop_after: int | None = None) -> list[dict]:
    """The events of one connection; with `stop_after`, the client hangs up after that many log lines."""
    text, lines = "", 0
    async for chunk in stream.events():
        text += chunk
        lines += sum(1 for e in parse(chunk) if e["event"] == "message")
        if stop_after is not None and lines >= stop_after:
            break
    return parse(text)


class Producer:
    """Writes numbered lines to a file in a thread, in uneven pieces, then says it has finished."""

    def __init__(self, path, count: int):
        self.path, self.count, self.finished = path, count, False
        self.thread = threading.Thread(target=self.run)

    def run(self):
        with open(self.path, "ab") as out:
            for i in range(self.count):
                line = f"line {i:04d} ünïcode\n".encode()
                out.write(line[:5])  # half a line first: a reader must not send it yet
                out.flush()
                time.sleep(0.001)
                out.write(line[5:])
                out.flush()
        self.finished = True

    def poll(self) -> ProducerState:
        return ProducerState(finished=self.finished, status={"status": "Succeeded" if self.finished else "Building"})


def test_a_reconnect_from_the_last_event_id_loses_and_doubles_nothing(tmp_path):
    path = tmp_path / "build.log"
    producer = Producer(path, 400)
    producer.thread.start()
    seen, offset, connections = [], 0, 0
    while True:
        connections += 1
        stream = FileEventStream(path=path, poll=producer.poll, offset=offset, poll_interval=0.01)
        events = asyncio.run(collect(stream, stop_after=37))
        lines = [e for e in events if e["event"] == "message"]
        seen += [e["data"] for e in lines]
        if lines:
            offset = int(lines[-1]["id"])  # what EventSource sends back as Last-Event-ID
        if events and events[-1]["event"] == "end":
            break
    producer.thread.join()
    assert connections > 5
    assert seen == [f"line {i:04d} ünïcode" for i in range(400)]
    assert offset == path.stat().st_size


def test_status_changes_and_the_end_are_sent(tmp_path):
    path = tmp_path / "build.log"
    path.write_text("only line\n")
    states = iter([ProducerState(False, {"status": "Building"})] * 2 + [ProducerState(True, {"status": "Succeeded"})])
    stream = FileEventStream(path=path, poll=lambda: next(states), poll_interval=0.01)
    events = asyncio.run(collect(stream))
    assert [(e["event"], e["data"]) for e in events] == [
        ("status", json.dumps({"status": "Building"})),
        ("message", "only line"),
        ("status", json.dumps({"status": "Succeeded"})),
        ("end", json.dumps({"status": "Succeeded"})),
    ]
    assert events[1]["id"] == "10"


def test_a_missing_file_is_waited_for(tmp_path):
    path = tmp_path / "later.log"
    calls = []

    def poll():
        calls.append(1)
        if len(calls) == 3:
            path.write_text("arrived\n")
        return ProducerState(finished=len(calls) >= 4)

    events = asyncio.run(collect(FileEventStream(path=path, poll=poll, poll_interval=0.01)))
    assert [e["data"] for e in events if e["event"] == "message"] == ["arrived"]


def test_the_last_line_without_a_newline_is_sent_once_the_producer_finished(tmp_path):
    path = tmp_path / "build.log"
    path.write_bytes(b"a\nno newline")
    events = asyncio.run(collect(FileEventStream(path=path, poll=lambda: ProducerState(True))))
    assert [(e["data"], e["id"]) for e in events if e["event"] == "message"] == [("a", "2"), ("no newline", "12")]


def test_an_endless_line_is_sent_in_bounded_pieces(tmp_path):
    path = tmp_path / "build.log"
    path.write_bytes(b"x" * 2500 + b"\n")
    stream = FileEventStream(path=path, poll=lambda: ProducerState(True), max_line=1000)
    pieces = [e for e in asyncio.run(collect(stream)) if e["event"] == "message"]
    assert [len(e["data"]) for e in pieces] == [1000, 1000, 500]
    assert [e["id"] for e in pieces] == ["1000", "2000", "2501"]


def test_a_quiet_stream_sends_keep_alive_comments(tmp_path):
    path = tmp_path / "build.log"
    path.write_text("")

    async def first_chunks():
        stream = FileEventStream(
            path=path, poll=lambda: ProducerState(False), poll_interval=0.01, keepalive_interval=0.02
        )
        chunks = []
        async for chunk in stream.events():
            chunks.append(chunk)
            if len(chunks) == 4:
                break
        return chunks

    assert ": keep-alive\n\n" in asyncio.run(first_chunks())


def test_carriage_returns_in_a_line_cannot_start_a_field_of_their_own():
    raw = format_event("50%\revent: end\r\ndata: forged", event_id=7)
    assert raw == "id: 7\ndata: 50%\ndata: event: end\ndata: data: forged\n\n"
    assert parse(raw) == [{"event": "message", "id": "7", "data": "50%\nevent: end\ndata: forged"}]


@pytest.mark.parametrize(
    ("headers", "query", "offset"),
    [
        ({"HTTP_LAST_EVENT_ID": "120"}, "", 120),
        ({"HTTP_LAST_EVENT_ID": "120"}, "?from=5", 120),
        ({}, "?from=5", 5),
        ({"HTTP_LAST_EVENT_ID": "-3"}, "?from=x", 0),
        ({}, "", 0),
    ],
)
def test_the_resume_offset_comes_from_last_event_id_then_from(headers, query, offset):
    assert resume_offset(RequestFactory().get("/events" + query, **headers)) == offset


@pytest.mark.django_db(transaction=True)
def test_a_member_removed_while_streaming_a_build_log_loses_the_stream(workspace, reader):
    """SECURITY 40: the environment build log's stream (session) ends once the reader is removed."""
    build = EnvironmentBuild.objects.create(spec_hash="a" * 64, spec={}, status=BuildStatus.BUILDING)
    Environment.objects.create(workspace=workspace, name="streamed-env", version="1", build=build)
    envbuild.log_path(build.spec_hash).parent.mkdir(parents=True)
    envbuild.log_path(build.spec_hash).write_text("resolving\n")
    url = f"/workspaces/{workspace.name}/environments/streamed-env/1/build-log/events"
    took = stream_of(url, Membership.objects.filter(workspace=workspace, user=reader).delete, user=reader)
    assert took is not None, "the stream stayed open"

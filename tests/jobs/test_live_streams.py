"""The pushed changes a job's page and an open Jobs list refresh on (jobs/streams.py on
core.streams.ChangeEventStream): sent as they happen, resumed from Last-Event-ID or ?from=, closed
when the reader loses access."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from jobs import selectors, services
from jobs.models import JobStatus
from workspaces.models import Membership

from .support import make_job
from .test_stream_access import stream_of
from .test_streams import parse

# The streams read in another thread: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


async def read_events(response, *, count: int, then=None, timeout: float = 5.0) -> list[dict]:
    """The first `count` events of the stream (calling `then()` once the first event arrived)."""
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/event-stream")
    chunks = aiter(response.streaming_content)
    raw = ""

    async def until(events: int):
        nonlocal raw
        while len(parse(raw)) < events:
            raw += (await anext(chunks)).decode()

    try:
        if then is not None:
            await asyncio.wait_for(until(1), timeout=timeout)
            await sync_to_async(then)()
        await asyncio.wait_for(until(count), timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"only these events came: {raw!r}") from None
    return parse(raw)[:count]


def events_of(url: str, user, *, count: int, then=None, headers=None) -> list[dict]:
    async def run():
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get(url, headers=headers or {})
        try:
            return await read_events(response, count=count, then=then)
        finally:
            await response.streaming_content.aclose()

    return asyncio.run(run())


def latest_event_id(job) -> int:
    return job.events.order_by("-pk").values_list("pk", flat=True).first()


def test_the_job_page_stream_sends_the_status_and_each_change_with_the_event_id(workspace, reader):
    job = make_job(workspace, name="pushed", status=JobStatus.QUEUED)
    url = f"/workspaces/{workspace.name}/jobs/{job.name}/events"

    def run_it():
        services.job_mark_running(job_id=job.pk, pgid=1, hostname="here")

    first, second = events_of(url, reader, count=2, then=run_it)
    assert (first["event"], json.loads(first["data"])["status"]) == ("status", "Queued")
    assert (second["event"], json.loads(second["data"])["status"]) == ("status", "Running")
    job.refresh_from_db()
    assert int(second["id"]) == latest_event_id(job)


def test_the_job_page_stream_resumes_after_the_last_event_id_and_ends_with_the_job(workspace, reader):
    job = make_job(workspace, name="resumed", status=JobStatus.RUNNING)
    url = f"/workspaces/{workspace.name}/jobs/{job.name}/events"
    seen = latest_event_id(job)
    services.job_finish(job_id=job.pk, status=JobStatus.COMPLETED)  # while the page was disconnected

    status, end = events_of(url, reader, count=2, headers={"Last-Event-ID": str(seen)})
    assert json.loads(status["data"])["status"] == "Completed"
    assert int(status["id"]) == latest_event_id(job) > seen
    assert end["event"] == "end"


def test_a_stream_resumed_at_the_current_event_sends_nothing_until_a_change(workspace, reader):
    job = make_job(workspace, name="quiet", status=JobStatus.RUNNING)
    url = f"/workspaces/{workspace.name}/jobs/{job.name}/events?from={latest_event_id(job)}"

    async def run():
        client = AsyncClient()
        await client.aforce_login(reader)
        response = await client.get(url)
        chunks = aiter(response.streaming_content)
        assert b"retry:" in await anext(chunks)
        quiet = asyncio.ensure_future(anext(chunks))
        await asyncio.sleep(0.5)
        assert not quiet.done(), "an event came though nothing changed"
        await sync_to_async(services.job_set_finalizing)(job_id=job.pk)
        event = parse((await asyncio.wait_for(quiet, timeout=5)).decode())[0]
        await response.streaming_content.aclose()
        return event

    event = asyncio.run(run())
    assert json.loads(event["data"])["status"] == "Finalizing"


def test_an_open_jobs_list_hears_of_a_job_submitted_elsewhere_and_of_status_changes(workspace, reader):
    running = make_job(workspace, name="already-running", status=JobStatus.RUNNING)
    version = selectors.jobs_version(workspace_id=workspace.pk)
    url = f"/workspaces/{workspace.name}/jobs/events?from={version}"

    def submit_and_finish():
        new = make_job(workspace, name="new-one", status=JobStatus.NOT_STARTED)
        services.job_finish(job_id=running.pk, status=JobStatus.COMPLETED)
        return new

    async def run():
        client = AsyncClient()
        await client.aforce_login(reader)
        response = await client.get(url)
        chunks = aiter(response.streaming_content)
        assert b"retry:" in await anext(chunks)
        await sync_to_async(submit_and_finish)()
        events = parse((await asyncio.wait_for(anext(chunks), timeout=5)).decode())
        await response.streaming_content.aclose()
        return events

    (change,) = asyncio.run(run())
    assert change["event"] == "change"
    assert int(change["id"]) > version


def test_a_job_in_another_workspace_does_not_change_the_list(workspace, outsider):
    version = selectors.jobs_version(workspace_id=workspace.pk)
    make_job(outsider.memberships.get().workspace, name="elsewhere", status=JobStatus.RUNNING)
    assert selectors.jobs_version(workspace_id=workspace.pk) == version


def test_the_jobs_list_page_names_the_version_it_shows(client, workspace, reader):
    make_job(workspace, name="listed", status=JobStatus.RUNNING)
    client.force_login(reader)
    page = client.get(f"/workspaces/{workspace.name}/jobs/").content.decode()
    version = selectors.jobs_version(workspace_id=workspace.pk)
    assert f'data-live-stream="/workspaces/{workspace.name}/jobs/events?from={version}"' in page
    assert 'hx-trigger="every 5s"' not in page


def test_the_job_page_listens_to_its_status_instead_of_polling_every_2_s(client, workspace, reader):
    job = make_job(workspace, name="listened", status=JobStatus.RUNNING)
    client.force_login(reader)
    page = client.get(f"/workspaces/{workspace.name}/jobs/{job.name}/").content.decode()
    assert f'data-live-stream="/workspaces/{workspace.name}/jobs/{job.name}/events"' in page
    assert "every 2s" not in page
    services.job_finish(job_id=job.pk, status=JobStatus.COMPLETED)
    assert "data-live-stream" not in client.get(f"/workspaces/{workspace.name}/jobs/{job.name}/").content.decode()


def test_an_outsider_gets_no_job_stream(client, workspace, outsider):
    job = make_job(workspace, name="private", status=JobStatus.RUNNING)
    client.force_login(outsider)
    assert client.get(f"/workspaces/{workspace.name}/jobs/{job.name}/events").status_code == 404
    assert client.get(f"/workspaces/{workspace.name}/jobs/events").status_code == 404


def test_a_member_removed_while_a_job_page_listens_loses_the_stream(workspace, reader):
    job = make_job(workspace, name="watched", status=JobStatus.RUNNING)
    url = f"/workspaces/{workspace.name}/jobs/{job.name}/events"
    took = stream_of(url, Membership.objects.filter(workspace=workspace, user=reader).delete, user=reader)
    assert took is not None, "the stream stayed open"


def test_a_member_removed_while_a_jobs_list_listens_loses_the_stream(workspace, reader):
    url = f"/workspaces/{workspace.name}/jobs/events"
    took = stream_of(url, Membership.objects.filter(workspace=workspace, user=reader).delete, user=reader)
    assert took is not None, "the stream stayed open"

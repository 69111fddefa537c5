"""An open log stream ends within seconds once its reader loses access (SECURITY.md 40): the real
streaming views (session and token routes), read through Django's async test client."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from accounts.services import token_create, token_revoke
from jobs.models import JobStatus
from workspaces.models import Membership

from .support import make_job

# The stream checks access in another thread: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

# A stream re-checks access every 2 s; give it that and some.
ENDS_WITHIN = 5.0


async def seconds_until_the_stream_closes(response, lose_access) -> float | None:
    """Read the first chunk (the stream is open), call `lose_access`, then read until the server
    closes the stream: how long that took after access was lost (None: still open after ENDS_WITHIN)."""
    assert response.status_code == 200, response
    chunks = aiter(response.streaming_content)
    assert b"retry:" in await anext(chunks)
    await sync_to_async(lose_access)()
    lost_at = time.monotonic()

    async def drain():
        async for _ in chunks:
            pass

    try:
        await asyncio.wait_for(drain(), timeout=ENDS_WITHIN)
    except TimeoutError:
        return None
    return time.monotonic() - lost_at


def stream_of(url: str, lose_access, *, user=None, headers=None) -> float | None:
    async def run():
        client = AsyncClient()
        if user is not None:
            await client.aforce_login(user)
        return await seconds_until_the_stream_closes(await client.get(url, headers=headers), lose_access)

    return asyncio.run(run())


@pytest.fixture
def running_job(workspace):
    return make_job(workspace, name="streamed-job", status=JobStatus.RUNNING)


def test_a_member_removed_while_streaming_a_job_log_in_the_browser_loses_the_stream(workspace, reader, running_job):
    """SECURITY 40: the job page's stream (session)."""
    url = f"/workspaces/{workspace.name}/jobs/{running_job.name}/stream"
    took = stream_of(url, Membership.objects.filter(workspace=workspace, user=reader).delete, user=reader)
    assert took is not None, "the stream stayed open"


def test_a_member_removed_while_streaming_a_job_log_through_the_api_loses_the_stream(workspace, reader, running_job):
    """SECURITY 40: the API's stream (Bearer token)."""
    _, raw = token_create(user=reader, name="stream")
    url = f"/api/v1/workspaces/{workspace.name}/jobs/{running_job.name}/stream"
    took = stream_of(
        url,
        Membership.objects.filter(workspace=workspace, user=reader).delete,
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert took is not None, "the stream stayed open"


def test_a_token_revoked_while_streaming_a_job_log_loses_the_stream(workspace, owner, running_job):
    """SECURITY 40: a revoked token is as good as a removed member."""
    token, raw = token_create(user=owner, name="stream")
    url = f"/api/v1/workspaces/{workspace.name}/jobs/{running_job.name}/stream"
    took = stream_of(url, lambda: token_revoke(token=token), headers={"Authorization": f"Bearer {raw}"})
    assert took is not None, "the stream stayed open"


def test_a_member_who_keeps_access_keeps_the_stream(workspace, reader, running_job):
    url = f"/workspaces/{workspace.name}/jobs/{running_job.name}/stream"
    assert stream_of(url, lambda: None, user=reader) is None

"""List pages and list APIs run the same number of queries however many rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from workspaces.models import Membership
from workspaces.roles import Role
from workspaces.services import DatastoreSpec, datastore_register

pytestmark = pytest.mark.django_db


def _add_datastores(workspace, owner, count):
    for i in range(count):
        datastore_register(
            workspace=workspace,
            user=owner,
            spec=DatastoreSpec(name=f"extra_{workspace.datastores.count()}_{i}", kind="s3", container_name="b"),
        )


def _add_members(workspace, make_user, count):
    start = Membership.objects.count()
    for i in range(count):
        Membership.objects.create(workspace=workspace, user=make_user(f"member{start}-{i}"), role=Role.READER)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("page", "grow"),
    [
        pytest.param("/workspaces/team-ws/datastores/", "datastores", id="datastore-list"),
        pytest.param("/api/v1/workspaces/team-ws/datastores", "datastores", id="datastore-api-list"),
        pytest.param("/workspaces/team-ws/members/", "members", id="member-list"),
        pytest.param("/api/v1/workspaces/team-ws/members", "members", id="member-api-list"),
        pytest.param("/workspaces/team-ws/", "members", id="workspace-home"),
    ],
)
def test_list_pages_are_constant_in_queries(
    page, grow, owner, workspace, make_user, browser_client, api_client, django_assert_max_num_queries
):
    client = api_client(owner) if page.startswith("/api/") else browser_client(owner)
    grow_by = {
        "datastores": lambda n: _add_datastores(workspace, owner, n),
        "members": lambda n: _add_members(workspace, make_user, n),
    }[grow]
    grow_by(2)
    client.get(page)  # warm up: one-time queries (e.g. the session) don't count against the rows
    few = _queries(client, page)
    grow_by(20)
    with django_assert_max_num_queries(few):
        response = client.get(page)
    assert response.status_code == 200

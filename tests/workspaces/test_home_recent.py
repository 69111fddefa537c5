"""Home's "Recent" lists what was last made in the workspace: data, environments, models,
components and jobs, besides datastores and members."""

from assets.models import Component, DataAsset, Environment, Model
from tests.jobs.support import make_job


def test_recent_lists_the_newest_assets_and_jobs_with_links(owner, workspace, browser_client):
    store = workspace.datastores.get(name="workspaceblobstore")
    DataAsset.objects.create(workspace=workspace, name="iris", version="1", type="uri_file", datastore=store, path="a")
    Environment.objects.create(workspace=workspace, name="my-env", version="2")
    Model.objects.create(workspace=workspace, name="clf", version="3", type="mlflow_model", datastore=store, path="m")
    Component.objects.create(workspace=workspace, name="train", version="1", spec={}, yaml="")
    make_job(workspace, name="brave_lion_1", display_name="first training")
    DataAsset.objects.create(
        workspace=workspace, name="old", version="1", type="uri_file", datastore=store, path="b", is_archived=True
    )

    page = browser_client(owner).get(f"/workspaces/{workspace.name}/").content.decode()
    recent = page[page.index("<h2>Recent</h2>") :]
    for kind, name, link in [
        ("Data", "iris:1", f"/workspaces/{workspace.name}/data/iris/1/"),
        ("Environment", "my-env:2", f"/workspaces/{workspace.name}/environments/my-env/2/"),
        ("Model", "clf:3", f"/workspaces/{workspace.name}/models/clf/3/"),
        ("Component", "train:1", f"/workspaces/{workspace.name}/components/train/1/"),
        ("Job", "first training", f"/workspaces/{workspace.name}/jobs/brave_lion_1/"),
    ]:
        assert f">{kind}<" in recent and f'href="{link}">{name}</a>' in recent, (kind, name)
    assert "old:1" not in recent  # archived assets are not recent work
    # Newest first: the job was made last of the five.
    assert recent.index("first training") < recent.index("train:1") < recent.index("iris:1")


def test_recent_keeps_to_its_workspace(owner, workspace, outsider, browser_client):
    from workspaces.models import Workspace

    theirs = Workspace.objects.get(name="oscars-ws")
    make_job(theirs, name="their_job")
    page = browser_client(owner).get(f"/workspaces/{workspace.name}/").content.decode()
    assert "their_job" not in page

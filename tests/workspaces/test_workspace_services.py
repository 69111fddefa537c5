import pytest
from django.core.exceptions import ValidationError

from workspaces.models import Datastore, Membership, Workspace
from workspaces.roles import Role
from workspaces.services import workspace_create
from workspaces.storage import datastore_storage

pytestmark = pytest.mark.django_db


def test_workspace_gets_storage_account_and_the_four_seed_datastores(owner):
    ws = workspace_create(user=owner, name="fraud-detection")
    stores = {d.name: d for d in ws.datastores.all()}
    assert set(stores) == {
        "workspaceblobstore",
        "workspaceartifactstore",
        "workspaceworkingdirectory",
        "workspacefilestore",
    }
    assert stores["workspaceblobstore"].is_default
    assert [d.name for d in ws.datastores.filter(is_default=True)] == ["workspaceblobstore"]
    assert stores["workspaceartifactstore"].container_name == "azureml"
    assert stores["workspaceblobstore"].container_name == f"azureml-blobstore-{ws.guid}"
    assert stores["workspacefilestore"].kind == "azure_file"
    assert stores["workspaceworkingdirectory"].container_name == f"code-{ws.guid}"
    assert all(d.storage_account == ws.storage_account for d in stores.values())
    assert Membership.objects.get(workspace=ws, user=owner).role == Role.OWNER


def test_each_workspace_has_its_own_storage_folder(owner, settings):
    a = workspace_create(user=owner, name="alpha")
    b = workspace_create(user=owner, name="bravo")
    loc_a = datastore_storage(a.datastores.get(name="workspaceblobstore")).location
    loc_b = datastore_storage(b.datastores.get(name="workspaceblobstore")).location
    assert loc_a != loc_b
    assert loc_a.startswith(str(settings.STUDIO_DATA_DIR / "storage" / a.storage_account.name))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a workspace name"),
        ("x" * 34, "At most 33 characters"),
        ("bad name!", "letters, digits"),
        ("-leading", "starting with a letter"),
    ],
)
def test_bad_workspace_names_are_refused_naming_the_field(owner, name, message):
    with pytest.raises(ValidationError) as info:
        workspace_create(user=owner, name=name)
    assert message in info.value.message_dict["name"][0]
    assert not Workspace.objects.exists()
    assert not Datastore.objects.exists()


def test_duplicate_workspace_name_is_refused_case_insensitively(owner):
    workspace_create(user=owner, name="shared")
    with pytest.raises(ValidationError) as info:
        workspace_create(user=owner, name="SHARED")
    assert "already exists" in info.value.message_dict["name"][0]
    assert Workspace.objects.count() == 1

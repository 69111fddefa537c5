"""Reads, always scoped to the requesting user."""

from dataclasses import dataclass

from .models import Datastore, Membership, Workspace
from .roles import JOB_TOKEN_PERMISSIONS, Perm, Role, role_allows


@dataclass(frozen=True)
class WorkspaceAccess:
    """A workspace as one user sees it, with the role that user holds there; through a job's
    token, only what the job needs (JOB_TOKEN_PERMISSIONS) and `job` names that job."""

    workspace: Workspace
    role: str
    job: str = ""  # through a job's token: the job's name, its id and its experiment's id
    job_id: int | None = None
    job_experiment_id: int | None = None

    def allows(self, perm: Perm) -> bool:
        if self.job and perm not in JOB_TOKEN_PERMISSIONS:
            return False
        return role_allows(self.role, perm)

    @property
    def role_label(self) -> str:
        return Role(self.role).label


def _token_workspace(user) -> int | None:
    """The one workspace a job-scoped token may reach (None for sessions and personal tokens)."""
    return getattr(user, "token_workspace_id", None)


def workspaces_for_user(*, user):
    if not user.is_authenticated:
        return Workspace.objects.none()
    workspaces = Workspace.objects.all() if user.is_superuser else Workspace.objects.filter(memberships__user=user)
    if _token_workspace(user):
        workspaces = workspaces.filter(pk=_token_workspace(user))
    return workspaces


def workspace_access(*, user, name: str) -> WorkspaceAccess | None:
    """The workspace named `name` if `user` may see it; admins act as Owner everywhere."""
    if not user.is_authenticated:
        return None
    workspace = Workspace.objects.filter(name=name).first()
    if workspace is None or (_token_workspace(user) and workspace.pk != _token_workspace(user)):
        return None
    scope = _job_scope(user, workspace)
    if user.is_superuser:
        return WorkspaceAccess(workspace=workspace, role=Role.OWNER, **scope)
    membership = Membership.objects.filter(workspace=workspace, user=user).first()
    if membership is None:
        return None
    return WorkspaceAccess(workspace=workspace, role=membership.role, **scope)


def _job_scope(user, workspace: Workspace) -> dict:
    """For a job's token: which job (and experiment) its access is limited to."""
    name = getattr(user, "token_job_name", "") or ""
    if not name:
        return {}
    from django.apps import apps  # jobs sits above this layer; its model is looked up, not imported

    job = apps.get_model("jobs", "Job").objects.filter(workspace=workspace, name=name).values("pk", "experiment_id")
    found = job.first() or {"pk": 0, "experiment_id": 0}  # a job that is gone reaches nothing
    return {"job": name, "job_id": found["pk"], "job_experiment_id": found["experiment_id"]}


def datastores_for_workspace(*, workspace: Workspace):
    return Datastore.objects.filter(workspace=workspace).select_related("storage_account")


def datastore_by_name(*, workspace: Workspace, name: str) -> Datastore | None:
    return datastores_for_workspace(workspace=workspace).filter(name=name).first()


def default_datastore(*, workspace: Workspace) -> Datastore:
    return datastores_for_workspace(workspace=workspace).get(is_default=True)


def memberships_for_workspace(*, workspace: Workspace):
    return Membership.objects.filter(workspace=workspace).select_related("user")


def membership_by_username(*, workspace: Workspace, username: str) -> Membership | None:
    return memberships_for_workspace(workspace=workspace).filter(user__username=username).first()


@dataclass(frozen=True)
class RecentItem:
    kind: str
    name: str
    detail: str
    when: object
    url: str


def recent_items(*, workspace: Workspace, limit: int = 10) -> list[RecentItem]:
    """The workspace's newest items across sections, newest first."""
    from django.urls import reverse

    items = [
        RecentItem(
            "Datastore",
            ds.name,
            ds.get_kind_display(),
            ds.created_at,
            reverse("datastore_detail", args=[workspace.name, ds.name]),
        )
        for ds in datastores_for_workspace(workspace=workspace).order_by("-created_at")[:limit]
    ]
    items += [
        RecentItem(
            "Member", m.user.username, m.get_role_display(), m.created_at, reverse("member_list", args=[workspace.name])
        )
        for m in memberships_for_workspace(workspace=workspace).order_by("-created_at")[:limit]
    ]
    return sorted(items, key=lambda item: item.when, reverse=True)[:limit]

"""Reads, always scoped to the requesting user."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from accounts.authentication import token_principal

from . import recent
from .models import Datastore, Membership, Workspace
from .recent import RecentItem
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


def workspaces_for_user(*, user, scope=None):
    """The workspaces `user` may see; through a job's token (`scope`, accounts.TokenScope) only its own."""
    if not user.is_authenticated:
        return Workspace.objects.none()
    workspaces = Workspace.objects.all() if user.is_superuser else Workspace.objects.filter(memberships__user=user)
    if scope is not None:
        workspaces = workspaces.filter(pk=scope.workspace_id)
    return workspaces


def workspace_access(*, user, name: str, scope=None) -> WorkspaceAccess | None:
    """The workspace named `name` if `user` may see it; admins act as Owner everywhere. Through a
    job's token (`scope`, accounts.TokenScope) only the job's workspace, limited to what it needs."""
    if user is None or not user.is_authenticated:
        return None
    workspace = Workspace.objects.filter(name=name).first()
    if workspace is None or (scope is not None and workspace.pk != scope.workspace_id):
        return None
    limits = _job_limits(scope, workspace)
    if user.is_superuser:
        return WorkspaceAccess(workspace=workspace, role=Role.OWNER, **limits)
    membership = Membership.objects.filter(workspace=workspace, user=user).first()
    if membership is None:
        return None
    return WorkspaceAccess(workspace=workspace, role=membership.role, **limits)


def _job_limits(scope, workspace: Workspace) -> dict:
    """For a job's token: which job (and experiment) its access is limited to."""
    if scope is None or not scope.job_name:
        return {}
    from django.apps import apps  # jobs sits above this layer; its model is looked up, not imported

    rows = apps.get_model("jobs", "Job").objects.filter(workspace=workspace, name=scope.job_name)
    found = rows.values("pk", "experiment_id").first() or {"pk": 0, "experiment_id": 0}  # a job gone reaches nothing
    return {"job": scope.job_name, "job_id": found["pk"], "job_experiment_id": found["experiment_id"]}


def still_allowed(*, user, workspace: str, perm: Perm, token: str | None = None):
    """A check, for a long stream, of whether its reader still may `perm` in `workspace`, read
    afresh each time: the token it came with (if any) still valid, else the same user still active."""
    user_id = user.pk

    def allowed() -> bool:
        if token is not None:
            principal = token_principal(token)
            current, scope = (principal.user, principal.scope) if principal else (None, None)
        else:
            current, scope = get_user_model().objects.filter(pk=user_id, is_active=True).first(), None
        access = workspace_access(user=current, name=workspace, scope=scope) if current is not None else None
        return access is not None and access.allows(perm)

    return allowed


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


def recent_items(*, workspace: Workspace, limit: int = 10) -> list[RecentItem]:
    """The workspace's newest items across sections (its own datastores and members, and what the
    apps above register in workspaces.recent: data, environments, models, components, jobs), newest first."""
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
    for source in recent.SOURCES:
        items += source(workspace, limit)
    return sorted(items, key=lambda item: item.when, reverse=True)[:limit]

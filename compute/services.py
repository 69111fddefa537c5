"""Creating, changing and deleting compute clusters."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import AlreadyExists
from workspaces.models import Workspace

from . import workload
from .models import ComputeCluster

DEFAULT_CLUSTER = "cpu-cluster"


def _validate(*, name: str, min_instances: int, max_instances: int, idle_time_before_scale_down: int) -> None:
    errors = {}
    try:
        ComputeCluster._meta.get_field("name").run_validators(name)
        if not name:
            raise ValidationError("Enter a name.")
    except ValidationError as exc:
        errors["name"] = exc.messages[0]
    if not isinstance(min_instances, int) or min_instances < 0:
        errors["min_instances"] = "Must be a whole number, 0 or more."
    if not isinstance(max_instances, int) or not 1 <= max_instances <= 100:
        errors["max_instances"] = "Must be a whole number from 1 to 100."
    elif isinstance(min_instances, int) and min_instances > max_instances:
        errors["min_instances"] = f"Must not exceed max_instances ({max_instances})."
    if not isinstance(idle_time_before_scale_down, int) or idle_time_before_scale_down < 0:
        errors["idle_time_before_scale_down"] = "Must be a number of seconds, 0 or more."
    if errors:
        raise ValidationError(errors)


def cluster_create(
    *,
    workspace: Workspace,
    user,
    name: str,
    size: str = "Standard_DS3_v2",
    min_instances: int = 0,
    max_instances: int = 2,
    idle_time_before_scale_down: int = 120,
    description: str = "",
    tags: dict | None = None,
) -> ComputeCluster:
    name = (name or "").strip()
    _validate(
        name=name,
        min_instances=min_instances,
        max_instances=max_instances,
        idle_time_before_scale_down=idle_time_before_scale_down,
    )
    if ComputeCluster.objects.filter(workspace=workspace, name__iexact=name).exists():
        raise AlreadyExists({"name": f"A compute named {name!r} already exists in {workspace.name}."})
    try:
        with transaction.atomic():
            return ComputeCluster.objects.create(
                workspace=workspace,
                name=name,
                size=size or "Standard_DS3_v2",
                min_instances=min_instances,
                max_instances=max_instances,
                idle_time_before_scale_down=idle_time_before_scale_down,
                description=description or "",
                tags=tags or {},
                created_by=user,
            )
    except IntegrityError as exc:
        raise AlreadyExists({"name": f"A compute named {name!r} already exists in {workspace.name}."}) from exc


def default_cluster_create(*, workspace: Workspace, user) -> ComputeCluster:
    """Every new workspace gets `cpu-cluster`, as Azure ML's quick start expects."""
    return cluster_create(workspace=workspace, user=user, name=DEFAULT_CLUSTER)


def cluster_update(
    *, cluster: ComputeCluster, min_instances: int, max_instances: int, idle_time_before_scale_down: int
) -> ComputeCluster:
    _validate(
        name=cluster.name,
        min_instances=min_instances,
        max_instances=max_instances,
        idle_time_before_scale_down=idle_time_before_scale_down,
    )
    cluster.min_instances = min_instances
    cluster.max_instances = max_instances
    cluster.idle_time_before_scale_down = idle_time_before_scale_down
    cluster.save(update_fields=["min_instances", "max_instances", "idle_time_before_scale_down"])
    return cluster


def cluster_delete(*, cluster: ComputeCluster) -> None:
    if workload.current().unfinished(cluster):
        raise ValidationError({"name": f"{cluster.name} still has jobs that are not finished; cancel them first."})
    if workload.current().has_history(cluster):
        raise ValidationError({"name": f"{cluster.name} ran jobs that are kept in the history; it can't be deleted."})
    cluster.delete()

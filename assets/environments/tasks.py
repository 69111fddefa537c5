"""The environment build task: one virtualenv per resolved spec, built by uv on a worker."""

from celery import shared_task
from django.utils import timezone

from assets.models import BuildStatus, EnvironmentBuild

from . import envbuild
from .packages import ResolvedSpec


@shared_task(ignore_result=True, acks_late=True)
def build_environment(build_id: int) -> None:
    """Claim the build (NotStarted -> Building) and run it; a redelivered or duplicate message finds
    the row already claimed and does nothing."""
    claimed = EnvironmentBuild.objects.filter(pk=build_id, status=BuildStatus.NOT_STARTED).update(
        status=BuildStatus.BUILDING, started_at=timezone.now(), finished_at=None, error=""
    )
    if not claimed:
        return
    build = EnvironmentBuild.objects.get(pk=build_id)
    result = envbuild.build(ResolvedSpec.from_dict(build.spec), spec_hash=build.spec_hash)
    EnvironmentBuild.objects.filter(pk=build_id, status=BuildStatus.BUILDING).update(
        status=BuildStatus.SUCCEEDED if result.ok else BuildStatus.FAILED,
        error=result.error[:4000],
        finished_at=timezone.now(),
    )

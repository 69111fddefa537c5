"""Celery discovers `assets.tasks`; each asset kind keeps its tasks in its own package."""

from assets.data.tasks import discard_stale_uploads  # noqa: F401
from assets.environments.tasks import build_environment  # noqa: F401

"""Celery discovers `assets.tasks`; each asset kind keeps its tasks in its own package."""

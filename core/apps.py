from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared kernel every app builds on: errors, form helpers, streams, request-body limits,
    the sandbox for user code, the health check, and the commands that start the studio."""

    name = "core"

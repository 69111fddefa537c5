from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from workspaces import write_guards

        from .snapshots import snapshot_guard

        write_guards.register(snapshot_guard)

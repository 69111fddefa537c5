from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from workspaces import recent, write_guards

        from .recent import recent_jobs
        from .snapshots import snapshot_guard

        write_guards.register(snapshot_guard)
        recent.register(recent_jobs)

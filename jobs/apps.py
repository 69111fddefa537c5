from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from compute import workload
        from workspaces import write_guards

        from .compute_workload import JobsWorkload
        from .snapshots import snapshot_guard

        write_guards.register(snapshot_guard)
        workload.register(JobsWorkload())

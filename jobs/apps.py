from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        from assets.mlmodels import services as model_services
        from compute import workload
        from workspaces import recent, write_guards

        from .compute_workload import JobsWorkload
        from .recent import recent_jobs
        from .services import model_register_from_job_uri
        from .snapshots import snapshot_guard

        write_guards.register(snapshot_guard)
        recent.register(recent_jobs)
        model_services.register_job_output_registrar(model_register_from_job_uri)
        workload.register(JobsWorkload())

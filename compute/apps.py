from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "compute"

    def ready(self) -> None:
        from workspaces import hooks

        from .services import default_cluster_create

        hooks.on_workspace_created(default_cluster_create)

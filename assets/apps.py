from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "assets"

    def ready(self) -> None:
        from workspaces import recent

        from .recent import recent_assets

        recent.register(recent_assets)

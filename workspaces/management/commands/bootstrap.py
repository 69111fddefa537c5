import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from workspaces.models import Workspace
from workspaces.services import workspace_create


class Command(BaseCommand):
    help = "On first start: create the admin user and a workspace. Does nothing once they exist."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("STUDIO_ADMIN_USER") or "admin"
        admin = User.objects.filter(username=username).first()
        if admin is None:
            password = os.environ.get("STUDIO_ADMIN_PASSWORD") or ""
            generated = not password
            if generated:
                password = secrets.token_urlsafe(12)
            admin = User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created the admin user {username!r}.")
            if generated:
                self.stdout.write(self.style.WARNING(f"  Its password, shown only this once: {password}"))
        if not Workspace.objects.exists():
            workspace = workspace_create(user=admin, name=settings.STUDIO_DEFAULT_WORKSPACE)
            self.stdout.write(f"Created the workspace {workspace.name!r} with its four datastores.")

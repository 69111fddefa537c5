from django.core.management.base import BaseCommand

from compute.nodes import NodeManager


class Command(BaseCommand):
    help = "Start and stop compute cluster nodes on this machine as jobs queue (started by `make run`)."

    def handle(self, *args, **options):
        NodeManager().loop()

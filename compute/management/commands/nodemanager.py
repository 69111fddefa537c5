from django.core.management.base import BaseCommand

from compute.nodes import NodeManager, preload_node_modules


class Command(BaseCommand):
    help = "Start and stop compute cluster nodes on this machine as jobs queue (started by `make run`)."

    def handle(self, *args, **options):
        preload_node_modules()
        NodeManager(fork=True).loop()

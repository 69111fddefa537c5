from django.db import migrations


def add_cpu_cluster(apps, schema_editor):
    """Workspaces created before compute existed get the `cpu-cluster` new ones get."""
    Workspace = apps.get_model("workspaces", "Workspace")
    ComputeCluster = apps.get_model("compute", "ComputeCluster")
    for workspace in Workspace.objects.all():
        ComputeCluster.objects.get_or_create(
            workspace=workspace, name="cpu-cluster",
            defaults={"min_instances": 0, "max_instances": 2, "idle_time_before_scale_down": 120},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("compute", "0002_initial"),
        ("workspaces", "0001_initial"),
    ]

    operations = [migrations.RunPython(add_cpu_cluster, migrations.RunPython.noop)]

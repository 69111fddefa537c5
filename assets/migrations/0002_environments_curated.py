"""The curated environments that ship with the studio (workspace=None, is_curated=True).

Frozen here as data: a later change to a curated environment is a new version in a new migration.
Their images are built on first use (a job, or "Build image" on the environment's page).
"""

from django.db import migrations

OPENMPI_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"

CURATED = [
    {
        "name": "AzureML-minimal-py311",
        "version": "1",
        "image": OPENMPI_IMAGE,
        "tags": {"OS": "Ubuntu22.04", "Python": "3.11"},
        "description": (
            "A minimal **Python 3.11** environment: the standard library and nothing else. "
            "Start here for scripts without dependencies, or as the base of your own conda file."
        ),
        "conda_file": """name: minimal
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
""",
    },
    {
        "name": "AzureML-sklearn-1.5-py311",
        "version": "1",
        "image": "mcr.microsoft.com/azureml/curated/sklearn-1.5:latest",
        "tags": {"OS": "Ubuntu22.04", "Python": "3.11", "Scikit-learn": "1.5", "Training": ""},
        "description": (
            "An environment for training with **scikit-learn 1.5** on Python 3.11, with pandas, "
            "matplotlib and mlflow-skinny, so `mlflow.sklearn.autolog()` and `mlflow.log_metric` "
            "report to the studio."
        ),
        "conda_file": """name: sklearn-1.5
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
    - scikit-learn==1.5.2
    - pandas==2.2.3
    - matplotlib==3.9.4
    - mlflow-skinny==3.17.2
""",
    },
]


def add_curated(apps, schema_editor):
    Environment = apps.get_model("assets", "Environment")
    for spec in CURATED:
        fields = {k: v for k, v in spec.items() if k not in ("name", "version")}
        Environment.objects.update_or_create(
            workspace=None,
            name=spec["name"],
            version=spec["version"],
            defaults={**fields, "is_curated": True},
        )


def remove_curated(apps, schema_editor):
    Environment = apps.get_model("assets", "Environment")
    for spec in CURATED:
        Environment.objects.filter(workspace=None, is_curated=True, name=spec["name"], version=spec["version"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("assets", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_curated, remove_curated),
    ]

"""AzureML-sklearn-1.5-py311 version 2: adds skops, which mlflow 3 uses to save scikit-learn models
(`mlflow.sklearn.log_model` fails without it). Version 1 stays as it was."""

from django.db import migrations

SKLEARN_V2 = {
    "name": "AzureML-sklearn-1.5-py311",
    "version": "2",
    "image": "mcr.microsoft.com/azureml/curated/sklearn-1.5:latest",
    "tags": {"OS": "Ubuntu22.04", "Python": "3.11", "Scikit-learn": "1.5", "Training": ""},
    "description": (
        "An environment for training with **scikit-learn 1.5** on Python 3.11, with pandas, "
        "matplotlib, mlflow-skinny and skops, so `mlflow.sklearn.autolog()`, `mlflow.log_metric` "
        "and `mlflow.sklearn.log_model` report to the studio."
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
    - skops==0.16.0
""",
}


def add_version(apps, schema_editor):
    Environment = apps.get_model("assets", "Environment")
    fields = {k: v for k, v in SKLEARN_V2.items() if k not in ("name", "version")}
    Environment.objects.update_or_create(
        workspace=None,
        name=SKLEARN_V2["name"],
        version=SKLEARN_V2["version"],
        defaults={**fields, "is_curated": True},
    )


def remove_version(apps, schema_editor):
    Environment = apps.get_model("assets", "Environment")
    Environment.objects.filter(
        workspace=None, is_curated=True, name=SKLEARN_V2["name"], version=SKLEARN_V2["version"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("assets", "0004_upload_ranges"),
    ]

    operations = [
        migrations.RunPython(add_version, remove_version),
    ]

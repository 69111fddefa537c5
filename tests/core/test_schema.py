"""The OpenAPI schema builds without a warning and validates (what `check --deploy` also reports)."""

from django.core.management import call_command


def test_openapi_schema_is_valid_and_has_no_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/workspaces/{workspace}/jobs:" in text
    assert "bearerAuth" in text
    description = text.split("paths:")[0]
    for section in ("datastores", "data", "environments", "models", "components", "compute", "jobs", "MLflow"):
        assert section in description, section

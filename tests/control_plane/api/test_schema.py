"""The OpenAPI schema describes every endpoint without guesswork."""

from django.core.management import call_command


def test_openapi_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    text = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/orgs/{org}/audit/export/" in text
    assert "bearerToken" in text

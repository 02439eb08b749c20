"""schemathesis against the API's own OpenAPI schema (``/api/v1/schema/``), through the WSGI
app, with a real token of an organization that has one object of every kind: no 500, every
answer's status documented and its body as the schema says. Bounded and derandomized."""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from control_plane.wsgi import application
from tests.control_plane.api.endpoints import build_victim


def _as_an_allowed_host(environ, start_response):  # type: ignore[no-untyped-def]
    """schemathesis sends ``Host: localhost``; answer as the configured host (a PostgreSQL
    or SQLite settings run allows different ones), so the host check is not what is fuzzed."""
    hosts = django_settings.ALLOWED_HOSTS
    if "*" not in hosts and hosts:
        environ["HTTP_HOST"] = hosts[0].lstrip(".")
    return application(environ, start_response)


schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", _as_an_allowed_host)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def world(acme):
    # As Django's test client does: the WSGI handler must not close the test's connection
    # (its transaction holds the fixtures) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"token": acme.admin_token, "values": build_victim(acme.ctx()).values}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@seed(15)
@settings(
    max_examples=4,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, world):
    # The organization's real objects in the path, so operations reach their views.
    for name in list(case.path_parameters or {}):
        if name in world["values"]:
            case.path_parameters[name] = world["values"][name]
    case.call_and_validate(headers={"Authorization": f"Bearer {world['token']}"}, checks=CHECKS)

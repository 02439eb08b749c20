"""Every error of the API is JSON in one shape, whatever the input or where it fails.

Each case is an attack that answered a 500 (or an HTML page) before: a cursor that decodes
to a non-date, a lone surrogate echoed in a choice field's error, JSON nested too deep for
the parser, a body over the size limit, and the 404/405 of paths no view answers.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

API = "/api/v1/orgs/acme/"


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"detail", "errors"}
    return body


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "path", ["deployments/prod/runs/", "deployments/prod/incidents/", "deployments/prod/backfills/"]
)
@pytest.mark.parametrize("raw", ["p=2024", "p=not-a-date", "p=2024-13-45T99:00:00", "o=-5&p=x"])
def test_a_cursor_that_decodes_to_a_bad_position_is_a_400(acme, path, raw):
    response = acme.client().get(f"{API}{path}", {"cursor": cursor(raw)})
    body = assert_error_shape(response, 400)
    assert "cursor" in body["errors"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("grants/", {"role": "\ud800", "member_id": 1}),
        ("tokens/", {"name": "t", "kind": "\ud800"}),
        ("tokens/", {"name": "t", "max_role": "\udfff"}),
        ("deployments/", {"name": "ok\ud800"}),
        ("deployments/prod/alert-policies/", {"name": "p", "min_check_severity": "\ud800"}),
    ],
)
def test_a_lone_surrogate_anywhere_in_the_body_is_a_400(acme, path, body):
    raw = json.dumps(body)  # ASCII, the surrogate escaped as a client would send it
    response = acme.client().post(f"{API}{path}", raw, content_type="application/json")
    assert_error_shape(response, 400)


def test_an_escaped_surrogate_pair_is_still_accepted(acme):
    client = acme.client()
    raw = b'{"name": "d1", "description": "\\ud83d\\ude00"}'
    response = client.post(f"{API}deployments/", raw, content_type="application/json")
    assert response.status_code in (201, 400), response.content
    assert "Unicode" not in response.json().get("detail", "")


def test_deeply_nested_json_is_a_400(acme):
    raw = "[" * 5000 + "]" * 5000
    response = acme.client().post(f"{API}deployments/", raw, content_type="application/json")
    assert_error_shape(response, 400)
    raw = '{"name": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    response = acme.client().post(f"{API}deployments/", raw, content_type="application/json")
    assert_error_shape(response, 400)


def test_a_body_over_the_limit_is_a_json_413(acme, settings):
    raw = b'{"name": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    response = acme.client().post(f"{API}deployments/", raw, content_type="application/json")
    assert_error_shape(response, 413)


def test_malformed_json_is_a_400_in_the_same_shape(acme):
    response = acme.client().post(f"{API}deployments/", "{", content_type="application/json")
    assert_error_shape(response, 400)


@pytest.mark.django_db
def test_paths_no_view_answers_are_json_404():
    assert_error_shape(Client().get("/api/v1/nowhere/"), 404)
    assert_error_shape(Client().get("/api/v2/"), 404)


def test_methods_a_view_does_not_take_are_json_405(acme):
    assert_error_shape(acme.client().put(f"{API}audit/", {}, format="json"), 405)


@pytest.mark.django_db
def test_unauthenticated_is_json_401():
    assert_error_shape(Client().get(API), 401)


def test_pages_outside_the_api_keep_their_html_errors(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")

"""After a deploy: a code location that fails to load shows why, and a reload through the
API brings in the fixed code, end to end with a real agent."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.tenancy.roles import Role
from tests.control_plane.real_agent import real_agent, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = """
from assay import Definitions, asset

@asset
def orders() -> int:
    return 1

defs = Definitions(assets=[orders])
"""

BROKEN = FIRST.replace("assets=[orders]", "assets=[orders, order_cuont]")  # a deploy's typo

FIXED = """
from assay import Definitions, asset

@asset
def orders() -> int:
    return 1

@asset
def order_count(orders: int) -> int:
    return orders

defs = Definitions(assets=[orders, order_count])
"""

LOCATION = "/api/v1/orgs/acme/deployments/prod/code-locations/shop/"


def test_a_failed_load_shows_its_traceback_and_a_reload_brings_in_the_fix(acme, tmp_path):
    client = acme.client()
    with real_agent(acme, tmp_path, project=FIRST, dequeue=False) as log:
        status = client.get(LOCATION + "status/").json()
        assert status["status"] == "ok"  # the first deploy was fine
        (tmp_path / "project.py").write_text(BROKEN)

        _, launcher = acme.member_with_role(Role.LAUNCHER)
        assert acme.client(launcher).post(LOCATION + "reload/").status_code == 403
        answer = client.post(LOCATION + "reload/")
        assert answer.status_code == 202, answer.content
        assert len(answer.json()["agents"]) == 1

        def loaded(expected: str):
            body = client.get(LOCATION + "status/").json()
            return body if body["status"] == expected else None

        failed = wait_for(lambda: loaded("error"), "the broken code's load error", log=log)
        assert "NameError: name 'order_cuont' is not defined" in failed["error"]
        assert failed["agents"][0]["agent_id"] == failed["loaded_by_agent"]

        (tmp_path / "project.py").write_text(FIXED)
        assert client.post(LOCATION + "reload/").status_code == 202
        fixed = wait_for(lambda: loaded("ok"), "the fixed code's snapshot", log=log)
        assert fixed["counts"] == {"assets": 2, "checks": 0, "schedules": 0, "sensors": 0}
        assets = client.get("/api/v1/orgs/acme/deployments/prod/assets/").json()["results"]
        assert {a["key"] for a in assets} == {"orders", "order_count"}
    reloads = AuditEvent.objects.unscoped().filter(action="code_location.reload")
    assert reloads.count() == 2


def test_reload_with_no_agent_connected_is_a_409_saying_so(acme):
    from control_plane.core.context import tenant_context
    from control_plane.tenancy import queries
    from tests.control_plane.factories import load_location

    with tenant_context(acme.ctx()):
        load_location(acme.ctx(), deployment=queries.get_deployment(name="prod"), name="shop")
    answer = acme.client().post(LOCATION + "reload/")
    assert answer.status_code == 409
    assert "no connected agent serves code location 'shop'" in answer.json()["detail"]
    status = acme.client().get(LOCATION + "status/").json()
    assert (status["status"], status["agents"]) == ("ok", [])
    assert not AuditEvent.objects.unscoped().filter(action="code_location.reload").exists()

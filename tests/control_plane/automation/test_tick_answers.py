"""Agents' answers to sensor ticks, applied by the sensor loop: each tick on its own, so one
answer that cannot be applied fails its tick and never stops the loop for the others."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assay import Definitions, SkipReason, sensor
from assay.api.v1 import agent_pb2 as pb
from control_plane.agents import convert
from control_plane.agents import services as agent_services
from control_plane.agents.models import AgentSession, TickRequest
from control_plane.alerts.models import Incident
from control_plane.automation.models import DaemonTick, InstigatorRunKey
from control_plane.automation.sensors import tick_sensors
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy import queries
from tests.control_plane.factories import DEFINITIONS, load_location, raw_orders

SENSOR = "new_order_files"  # the factories' sensor, targeting raw_orders


def _serve(
    world, *, definitions: Definitions = DEFINITIONS, sensors: tuple[str, ...] = (SENSOR,)
) -> AgentSession:
    """The world's prod deployment with its shop location loaded, a connected agent serving
    it, and its sensors started."""
    with tenant_context(world.ctx()):
        prod = queries.get_deployment(name="prod")
    load_location(world.ctx(), deployment=prod, name="shop", definitions=definitions)
    with tenant_context(world.ctx()):
        session = AgentSession.objects.create(
            organization=world.organization,
            agent_id=f"agent-{world.organization.slug}",
            deployment_ids=[prod.pk],
            code_locations=["shop"],
        )
    for name in sensors:
        url = f"/api/v1/orgs/{world.organization.slug}/deployments/prod/sensors/{name}/"
        response = world.client().patch(url, {"status": "running"}, format="json")
        assert response.status_code == 200, response.content
    return session


def _asked(world) -> TickRequest:
    """The sensor's latest evaluation request (the loop asked the agent)."""
    with tenant_context(world.ctx()):
        return TickRequest.objects.filter(name=SENSOR).latest("created_at")


def _answer(world, request: TickRequest, **fields) -> None:
    """The agent's answer, as its stream delivers it: validated, then stored."""
    answer = convert.tick_answer_from_proto(pb.TickResult(request_id=str(request.id), **fields))
    with tenant_context(world.ctx()):
        assert agent_services.record_tick_answer(session=request.agent_session, answer=answer)


def _ticks(world) -> list[DaemonTick]:
    with tenant_context(world.ctx()):
        return list(DaemonTick.objects.filter(loop="sensor").order_by("id"))


def test_a_run_key_of_600_characters_launches_its_run_once(acme):
    _serve(acme)
    now = timezone.now()
    key = "file-" + "x" * 595
    for second in (0, 100):  # two evaluations asking for the same run key
        AgentSession.objects.unscoped().update(last_heartbeat_at=now + timedelta(seconds=second))
        tick_sensors(now=now + timedelta(seconds=second))
        _answer(acme, _asked(acme), run_requests=[pb.TickRunRequest(run_key=key)])
        tick_sensors(now=now + timedelta(seconds=second + 1))

    first, second = _ticks(acme)
    assert (first.status, first.error) == ("success", "")
    assert second.status == "skipped" and "had launched before" in second.skip_reason
    with tenant_context(acme.ctx()):
        [run] = Run.objects.all()
        assert InstigatorRunKey.objects.get().run_key == key
    assert first.run_ids == [str(run.id)]


def test_a_run_key_longer_than_the_limit_is_refused_by_the_protocol(acme):
    session = _serve(acme)
    tick_sensors(now=timezone.now())
    message = pb.TickResult(
        request_id=str(_asked(acme).id), run_requests=[pb.TickRunRequest(run_key="k" * 1001)]
    )
    with pytest.raises(convert.InvalidAgentMessage, match="run_key is over 1000 bytes"):
        convert.tick_answer_from_proto(message)
    assert session.pk  # nothing was recorded: the tick still waits for a valid answer
    assert [t.status for t in _ticks(acme)] == ["started"]


def test_an_answer_that_cannot_be_applied_fails_its_tick_alone_and_the_pass_goes_on(acme, globex):
    for world in (acme, globex):
        _serve(world)
    now = timezone.now()
    tick_sensors(now=now)
    # acme's answer was stored in a shape this version cannot read (an older version's).
    broken = _asked(acme)
    TickRequest.objects.unscoped().filter(pk=broken.pk).update(
        answered_at=now, result={"request_id": str(broken.id)}
    )
    _answer(globex, _asked(globex), run_requests=[pb.TickRunRequest(run_key="a")])

    assert tick_sensors(now=now + timedelta(seconds=1)) == 2  # both completed, neither raised

    [failed] = _ticks(acme)
    assert failed.status == "failure" and "KeyError" in failed.error
    with tenant_context(acme.ctx()):
        [incident] = Incident.objects.filter(kind="tick_failure", resolved_at__isnull=True)
        assert incident.key == f"sensor:shop/{SENSOR}"
        assert not Run.objects.exists()
    [applied] = _ticks(globex)
    assert applied.status == "success" and len(applied.run_ids) == 1


def _sensor(name: str):
    @sensor(name=name, target=raw_orders, minimum_interval_seconds=60)
    def evaluate():
        return SkipReason("nothing new")

    return evaluate


THREE_SENSORS = Definitions(
    assets=[raw_orders], sensors=[_sensor(name) for name in ("files_a", "files_b", "files_c")]
)


def test_applying_answers_reads_each_deployments_definitions_once_per_pass(acme):
    _serve(acme, definitions=THREE_SENSORS, sensors=("files_a", "files_b", "files_c"))
    now = timezone.now()
    tick_sensors(now=now)  # asks for all three
    with tenant_context(acme.ctx()):
        asked = {r.name: r for r in TickRequest.objects.all()}

    def pass_reading_snapshots(*, answering: list[str], at: int) -> int:
        for name in answering:
            _answer(acme, asked[name], skip_reason="nothing new")
        with CaptureQueriesContext(connection) as run:
            assert tick_sensors(now=now + timedelta(seconds=at)) == len(answering)
        return sum('"catalog_locationsnapshot"' in q["sql"] for q in run.captured_queries)

    one = pass_reading_snapshots(answering=["files_a"], at=1)
    two = pass_reading_snapshots(answering=["files_b", "files_c"], at=2)
    assert one == two
    assert [t.status for t in _ticks(acme)] == ["skipped"] * 3

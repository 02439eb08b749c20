"""The audit log: one row per mutation, append-only, hash-chained, tamper-evident."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from control_plane.audit import registry
from control_plane.audit.errors import AuditLogIsAppendOnly, UndeclaredAuditAction
from control_plane.audit.models import AuditEvent
from control_plane.audit.services import record, verify_chain
from control_plane.core.context import Principal
from tests.control_plane.api.database import require_postgresql
from tests.control_plane.api.endpoints import (
    all_mutations,
    app_modules,
    body_for,
    build_victim,
)
from tests.control_plane.api.routes import MUTATING, api_routes
from tests.control_plane.audit.tampering import tamper


@pytest.fixture
def objects(acme):
    """acme with one object of every kind (``tests/control_plane/api/endpoints.py``)."""
    return build_victim(acme.ctx()).values


def test_every_mutating_endpoint_is_in_the_audit_table():
    endpoints = {(r.name, m) for r in api_routes() for m in r.methods if m in MUTATING}
    table = all_mutations()
    assert endpoints - set(table) == set(), (
        "mutating endpoints with no expected audit action: add them to MUTATIONS in "
        "tests/control_plane/<app>/endpoints.py"
    )
    assert set(table) - endpoints == set(), "MUTATIONS lists endpoints that do not exist"


def consequences(name: str) -> list[str]:
    """The audit rows a request writes before its own: one grant per branch deployment
    for a team's branch default role."""
    for module in app_modules():  # e.g. billing: subscribing changes the plan first
        if name in getattr(module, "PRECEDING", {}):
            return list(module.PRECEDING[name])
    if name != "team-default-roles":
        return []
    from control_plane.tenancy.models import Deployment

    return ["grant.create"] * Deployment.objects.unscoped().filter(
        organization__slug="acme", kind=Deployment.Kind.BRANCH
    ).count()


@pytest.mark.parametrize(("name", "method"), sorted(all_mutations()), ids=lambda v: str(v))
def test_mutating_endpoint_audits_each_change_once(acme, objects, name, method, settings):
    route = next(r for r in api_routes() if r.name == name)
    body, action = all_mutations()[(name, method)]
    before = set(AuditEvent.objects.unscoped().values_list("pk", flat=True))
    earlier = consequences(name)
    with ExitStack() as around:
        for module in app_modules():  # third-party stand-ins an endpoint needs (Stripe)
            if hasattr(module, "environment"):
                around.enter_context(module.environment(name, settings))
        response = getattr(acme.client(), method)(
            route.url(objects),
            body_for(body, objects),
            format="json",
            HTTP_USER_AGENT="ops-cli/1.2",
        )
    assert response.status_code in (200, 201, 202, 204), response.content
    new = AuditEvent.objects.unscoped().exclude(pk__in=before).order_by("pk")
    # A request that changes several objects (a team default applied as grants on each
    # deployment of its kind) audits each change, then itself, last.
    assert [e.action for e in new][-1] == action
    assert [e.action for e in new][:-1] == earlier
    event = new.last()
    for each in new:
        assert each.actor_label == acme.admin.email
        assert each.organization_id == acme.organization.pk
        assert (each.ip, each.user_agent) == ("127.0.0.1", "ops-cli/1.2")
    if method == "patch":
        assert event.before is not None and event.after is not None and event.before != event.after
    assert verify_chain(organization=acme.organization).ok


def test_failed_request_writes_no_audit_row(acme, objects):
    count = AuditEvent.objects.unscoped().count()
    response = acme.client().post(
        "/api/v1/orgs/acme/deployments/", {"name": objects["deployment"]}, format="json"
    )
    assert response.status_code == 409
    assert AuditEvent.objects.unscoped().count() == count


def test_audit_rows_refuse_update_and_delete_in_the_model(acme):
    event = AuditEvent.objects.unscoped().filter(organization=acme.organization).first()
    event.action = "member.add"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.unscoped().update(action="x.y")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.unscoped().all().delete()


def test_postgresql_refuses_raw_update_and_delete_of_audit_rows(acme):
    require_postgresql()
    for sql in (
        "UPDATE audit_auditevent SET action = 'x.y'",
        "DELETE FROM audit_auditevent",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)


def test_verify_audit_reports_ok_for_an_untouched_chain(acme, objects, capsys):
    call_command("verify_audit", org="acme")
    out = capsys.readouterr().out
    assert "acme: OK" in out


def test_verify_audit_detects_a_row_changed_with_raw_sql(acme, objects, capsys):
    target = AuditEvent.objects.unscoped().get(organization=acme.organization, seq=3)
    tamper(
        "UPDATE audit_auditevent SET after = %s WHERE id = %s",
        ['{"name": "innocent"}', target.pk],
    )
    with pytest.raises(CommandError):
        call_command("verify_audit", org="acme")
    assert "BROKEN at seq 3 (row content changed)" in capsys.readouterr().out


def test_verify_audit_detects_a_deleted_row(acme, objects, capsys):
    target = AuditEvent.objects.unscoped().get(organization=acme.organization, seq=2)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
    report = verify_chain(organization=acme.organization)
    assert (report.first_break_seq, report.reason) == (2, "row missing")


def test_verify_audit_detects_a_rewritten_chain_tail(acme, objects):
    """Changing a row and recomputing its own hash still breaks the next row's link."""
    from control_plane.audit.services import compute_hash

    event = AuditEvent.objects.unscoped().get(organization=acme.organization, seq=2)
    event.actor_label = "someone-else"
    new_hash = compute_hash(event)
    tamper(
        "UPDATE audit_auditevent SET actor_label = %s, hash = %s WHERE id = %s",
        ["someone-else", new_hash, event.pk],
    )
    report = verify_chain(organization=acme.organization)
    assert (report.first_break_seq, report.reason) == (3, "previous hash mismatch")


def test_chains_are_per_organization(acme, globex):
    assert verify_chain(organization=acme.organization).ok
    assert verify_chain(organization=globex.organization).ok
    first = AuditEvent.objects.unscoped().filter(organization=globex.organization, seq=1).get()
    assert first.prev_hash == "0" * 64


def test_recording_an_undeclared_action_fails(acme):
    with pytest.raises(UndeclaredAuditAction):
        record(
            actor=Principal.system(),
            action="made.up",
            target=acme.organization,
            organization=acme.organization,
        )
    assert not registry.is_declared("made.up")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_chain_correctly():
    require_postgresql()  # SQLite has one writer at a time by design
    from tests.control_plane.conftest import make_org

    world = make_org("busy")
    errors = []

    def write(n: int) -> None:
        try:
            for _ in range(n):
                with transaction.atomic():
                    record(
                        actor=Principal.system(),
                        action="organization.update",
                        target=world.organization,
                        organization=world.organization,
                    )
        except Exception as exc:  # reported below; the thread must not die silently
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(15,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = verify_chain(organization=world.organization)
    assert report.ok and report.checked == 1 + 1 + 45  # create, token, 45 updates


def test_audit_api_filters_and_paginates_with_a_cursor(acme, objects):
    client = acme.client()
    page = client.get("/api/v1/orgs/acme/audit/", {"limit": 3}).json()
    assert len(page["results"]) == 3
    assert page["results"][0]["seq"] > page["results"][1]["seq"]
    second = client.get(page["next"]).json()
    assert second["results"][0]["seq"] == page["results"][-1]["seq"] - 1
    teams = client.get("/api/v1/orgs/acme/audit/", {"action": "team."}).json()["results"]
    assert {e["action"] for e in teams} == {"team.create", "team.member_add"}
    grants = client.get("/api/v1/orgs/acme/audit/", {"target_type": "grant"}).json()["results"]
    assert {e["action"] for e in grants} == {"grant.create"}
    mine = client.get("/api/v1/orgs/acme/audit/", {"actor": acme.admin.email}).json()["results"]
    assert mine and all(e["actor_label"] == acme.admin.email for e in mine)
    future = client.get("/api/v1/orgs/acme/audit/", {"since": "2999-01-01T00:00:00Z"}).json()
    assert future["results"] == []
    past = client.get("/api/v1/orgs/acme/audit/", {"until": "2000-01-01T00:00:00Z"}).json()
    assert past["results"] == []
    everything = AuditEvent.objects.unscoped().filter(organization=acme.organization)
    middle = everything.get(seq=3).occurred_at
    window = client.get(
        "/api/v1/orgs/acme/audit/",
        {"since": middle.isoformat(), "until": everything.get(seq=5).occurred_at.isoformat()},
    ).json()["results"]
    assert [e["seq"] for e in window] == [4, 3]  # since is inclusive, until exclusive


def test_audit_api_rejects_unknown_filters(acme):
    response = acme.client().get("/api/v1/orgs/acme/audit/", {"colour": "red"})
    assert response.status_code == 400
    assert "colour" in response.json()["errors"]


def test_audit_export_as_csv_and_json_lines(acme, objects):
    import csv
    import io
    import json

    client = acme.client()
    total = AuditEvent.objects.unscoped().filter(organization=acme.organization).count()
    jsonl = client.get("/api/v1/orgs/acme/audit/export/", {"format": "jsonl"})
    assert jsonl.status_code == 200
    lines = b"".join(jsonl.streaming_content).decode().splitlines()
    assert len(lines) == total and json.loads(lines[0])["seq"] == total
    csv_response = client.get("/api/v1/orgs/acme/audit/export/", {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
    assert len(rows) == total and rows[-1]["action"] == "organization.create"


@pytest.mark.parametrize(
    ("ip", "after"),
    [
        ("2001:0DB8:0000::0001", None),
        ("::ffff:0a00:0001", None),
        ("10.0.0.1", {"big": 1e20, "huge": 1.5e300, "tiny": 1e-7, "one": 1.0, "zero": -0.0}),
        ("10.0.0.1", {"int": 12345678901234567890, "nested": [{"x": 2.5}], "text": "é\u2028"}),
    ],
)
def test_events_whose_values_the_database_normalises_still_verify(acme, ip, after):
    """IPv6 spellings and floats come back from the database in canonical form; the chain
    must not report tampering that never happened."""
    event = record(
        actor=Principal.system(),
        action="organization.update",
        target=acme.organization,
        organization=acme.organization,
        ip=ip,
        after=after,
    )
    stored = AuditEvent.objects.unscoped().get(pk=event.pk)
    assert stored.ip == event.ip and stored.after == event.after
    assert verify_chain(organization=acme.organization).ok


def test_csv_export_defuses_spreadsheet_formulas_and_json_lines_keeps_them(acme):
    import csv
    import io
    import json

    client = acme.client()
    evil = '=HYPERLINK("http://evil.test","click")'
    assert client.post("/api/v1/orgs/acme/teams/", {"name": evil}, format="json").status_code == 201
    query = {"action": "team.create"}
    csv_body = client.get("/api/v1/orgs/acme/audit/export/", {**query, "format": "csv"})
    (row,) = csv.DictReader(io.StringIO(b"".join(csv_body.streaming_content).decode()))
    assert row["target_label"] == "'" + evil
    jsonl = client.get("/api/v1/orgs/acme/audit/export/", {**query, "format": "jsonl"})
    (line,) = b"".join(jsonl.streaming_content).decode().splitlines()
    assert json.loads(line)["target_label"] == evil


@pytest.mark.django_db(transaction=True)
def test_an_open_audited_change_does_not_hold_up_writes_that_reference_the_organization(acme):
    """Ingestion inserts rows pointing at the organization while a launch, say, is still
    writing its audit row: the chain's lock must not make them wait."""
    require_postgresql()
    from control_plane.agents.models import AgentSession

    recorded, release = threading.Event(), threading.Event()

    def audited_change():
        try:
            with transaction.atomic():
                record(
                    actor=Principal.system("test"),
                    action="organization.update",
                    target=acme.organization,
                    organization=acme.organization,
                    after={"name": "held"},
                )
                recorded.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=audited_change)
    holder.start()
    try:
        assert recorded.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # blocked: fails, not hangs
            AgentSession.objects.unscoped().create(
                organization=acme.organization, agent_id="a", deployment_ids=[], code_locations=[]
            )
    finally:
        release.set()
        holder.join()

"""Tampering with the audit log directly in SQL, the way someone with database access
but without the installation's audit key would: every kind shows in ``verify_audit``."""

from __future__ import annotations

import itertools
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from control_plane.audit.chain import GENESIS_HASH, legacy_hash
from control_plane.audit.models import AuditCheckpoint, AuditEvent
from control_plane.audit.services import (
    checkpoint_heads,
    compute_hash,
    verify_chain,
    write_checkpoint,
)
from control_plane.daemon import all_loops
from tests.control_plane.api.endpoints import build_victim
from tests.control_plane.audit.tampering import tamper


@pytest.fixture
def objects(acme):
    return build_victim(acme.ctx()).values


def _events(organization) -> list[AuditEvent]:
    return list(AuditEvent.objects.unscoped().filter(organization=organization).order_by("seq"))


def _rehash_publicly(organization, from_seq: int) -> None:
    """Recompute every hash from ``from_seq`` on with the public algorithm (no key)."""
    events = _events(organization)
    prev = events[from_seq - 2].hash if from_seq > 1 else GENESIS_HASH
    for event in events[from_seq - 1 :]:
        event.prev_hash = prev
        event.hash = legacy_hash(event)
        tamper(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [event.prev_hash, event.hash, event.pk],
        )
        prev = event.hash


def _verify_fails(capsys, org: str) -> str:
    with pytest.raises(CommandError):
        call_command("verify_audit", org=org)
    return capsys.readouterr().out


def test_a_row_rewritten_and_the_chain_rehashed_without_the_key_shows(acme, objects, capsys):
    target = _events(acme.organization)[2]
    tamper(
        "UPDATE audit_auditevent SET actor_label = %s, after = %s WHERE id = %s",
        ["innocent@acme.test", json.dumps({"name": "nothing"}), target.pk],
    )
    _rehash_publicly(acme.organization, target.seq)
    # Every link holds (prev_hash equals the previous hash): only the key tells.
    events = _events(acme.organization)
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert f"BROKEN at seq {target.seq} (row content changed)" in _verify_fails(capsys, "acme")


def test_deleting_the_newest_rows_shows_against_a_checkpoint(acme, objects, capsys):
    checkpoint = write_checkpoint(organization=acme.organization)
    assert checkpoint is not None and checkpoint.seq == len(_events(acme.organization))
    call_command("verify_audit", org="acme")
    assert "acme: OK" in capsys.readouterr().out
    tamper(
        "DELETE FROM audit_auditevent WHERE organization_id = %s AND seq > %s",
        [acme.organization.pk, checkpoint.seq - 2],
    )
    out = _verify_fails(capsys, "acme")
    assert f"BROKEN at seq {checkpoint.seq - 1} (truncated: a checkpoint records" in out


def test_truncating_then_appending_new_rows_differs_from_the_checkpoint(acme, objects):
    checkpoint = write_checkpoint(organization=acme.organization)
    assert checkpoint is not None
    tamper(
        "DELETE FROM audit_auditevent WHERE organization_id = %s AND seq >= %s",
        [acme.organization.pk, checkpoint.seq - 1],
    )
    # Later writes refill the same seq numbers with other rows; the checkpoint's head is gone.
    for name in ("one", "two", "three"):
        assert (
            acme.client()
            .post("/api/v1/orgs/acme/teams/", {"name": name}, format="json")
            .status_code
            == 201
        )
    report = verify_chain(organization=acme.organization)
    assert (report.first_break_seq, report.reason) == (checkpoint.seq, "differs from a checkpoint")
    # And the daemon refuses to sign the new head of a broken chain.
    assert write_checkpoint(organization=acme.organization) is None


def test_a_deleted_row_in_the_middle_shows(acme, objects, capsys):
    target = _events(acme.organization)[3]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
    assert f"BROKEN at seq {target.seq} (row missing)" in _verify_fails(capsys, "acme")


def test_a_row_moved_to_another_organization_shows_in_both_chains(acme, globex, objects):
    moved = _events(acme.organization)[2]
    globex_head = _events(globex.organization)[-1]
    tamper(
        "UPDATE audit_auditevent SET organization_id = %s, seq = %s, prev_hash = %s WHERE id = %s",
        [globex.organization.pk, globex_head.seq + 1, globex_head.hash, moved.pk],
    )
    source = verify_chain(organization=acme.organization)
    assert (source.first_break_seq, source.reason) == (moved.seq, "row missing")
    target = verify_chain(organization=globex.organization)
    assert (target.first_break_seq, target.reason) == (globex_head.seq + 1, "row content changed")


def test_the_same_row_hashes_differently_in_each_organization(acme, globex):
    event = _events(acme.organization)[0]
    original = compute_hash(event)
    event.organization_id = globex.organization.pk
    assert compute_hash(event) != original


def test_a_forged_or_edited_checkpoint_shows(acme, objects, capsys):
    checkpoint = write_checkpoint(organization=acme.organization)
    assert checkpoint is not None
    tamper(
        "UPDATE audit_auditcheckpoint SET seq = %s WHERE id = %s",
        [checkpoint.seq + 5, checkpoint.pk],
    )
    assert "(checkpoint signature invalid)" in _verify_fails(capsys, "acme")


def test_checkpoints_are_append_only(acme):
    checkpoint = write_checkpoint(organization=acme.organization)
    assert checkpoint is not None
    from control_plane.audit.errors import AuditLogIsAppendOnly

    with pytest.raises(AuditLogIsAppendOnly):
        checkpoint.save()
    with pytest.raises(AuditLogIsAppendOnly):
        checkpoint.delete()


def test_verify_audit_signs_checkpoints_on_demand_and_the_daemon_periodically(
    acme, globex, objects, capsys
):
    call_command("verify_audit", org="acme", checkpoint=True)
    out = capsys.readouterr().out
    head = _events(acme.organization)[-1]
    assert f"acme: checkpoint signed at seq {head.seq}" in out
    # The daemon's loop signs the heads that moved since: globex's, not acme's again.
    (loop,) = [loop for loop in all_loops() if loop.name == "audit"]
    assert loop.run() == 1
    assert loop.run() == 0
    assert AuditCheckpoint.objects.unscoped().filter(organization=globex.organization).count() == 1
    acme.client().post("/api/v1/orgs/acme/teams/", {"name": "later"}, format="json")
    assert checkpoint_heads() == 1
    call_command("verify_audit", all=True)
    out = capsys.readouterr().out
    assert "acme: OK" in out and "2 checkpoints matched" in out


def test_the_chain_verifies_only_under_its_key(acme, objects, settings, caplog):
    assert verify_chain(organization=acme.organization).ok
    settings.AUDIT_CHAIN_KEY = "another-installation's-key"
    report = verify_chain(organization=acme.organization)
    assert (report.first_break_seq, report.reason) == (1, "row content changed")
    # A chain that does not verify is never signed, and the key is not in what is logged.
    assert write_checkpoint(organization=acme.organization) is None
    assert "another-installation" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_rows_hashed_before_the_key_behind_a_legacy_checkpoint():
    """Rows of the first release keep their public hashes, sealed by a signed legacy
    checkpoint; rewriting one of them and rehashing publicly still shows."""
    from django.db.migrations.executor import MigrationExecutor

    from tests.control_plane.conftest import make_org

    world = make_org("legacy")
    executor = MigrationExecutor(connection)
    executor.migrate([("audit", "0002_append_only_trigger")])
    # As the first release wrote them: the same rows, the unkeyed hash.
    _rehash_publicly(world.organization, 1)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    (legacy,) = AuditCheckpoint.objects.unscoped().filter(organization=world.organization)
    assert legacy.legacy and legacy.seq == len(_events(world.organization))
    world.client().post("/api/v1/orgs/legacy/teams/", {"name": "keyed"}, format="json")
    report = verify_chain(organization=world.organization)
    assert report.ok and report.checked == legacy.seq + 1 and report.checkpoints == 1
    tamper(
        "UPDATE audit_auditevent SET actor_label = 'someone' WHERE organization_id = %s "
        "AND seq = 1",
        [world.organization.pk],
    )
    _rehash_publicly(world.organization, 1)
    report = verify_chain(organization=world.organization)
    assert report.first_break_seq == legacy.seq
    assert report.reason == "differs from a checkpoint"

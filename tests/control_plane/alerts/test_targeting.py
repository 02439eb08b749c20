"""Which policies an incident reaches: kind, asset selection, tags and check severity."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from assay.snapshot import build_snapshot
from control_plane.alerts import services
from control_plane.alerts.models import AlertDelivery
from control_plane.alerts.targeting import AlertSubject
from control_plane.catalog.models import LocationSnapshot
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import tenant_context
from tests.control_plane.factories import agent_ctx

pytestmark = pytest.mark.django_db


def _notified(incident) -> set[str]:
    return set(
        AlertDelivery.objects.unscoped()
        .filter(incident=incident, notice="opened")
        .values_list("target", flat=True)
    )


def test_policy_reaches_only_the_kinds_it_names(prod, make_policy):
    make_policy(kinds=["run_failure"], emails=["runs@acme.test"])
    make_policy(kinds=["freshness_violation", "agent_offline"], emails=["fresh@acme.test"])
    run = services.open_incident(
        deployment=prod, kind="run_failure", key="run:1", details={}, subject=AlertSubject()
    )
    agent = services.open_incident(
        deployment=prod, kind="agent_offline", key="agent:eu-1", details={}
    )
    assert _notified(run) == {"runs@acme.test"}
    assert _notified(agent) == {"fresh@acme.test"}


def test_selection_targets_assets_through_the_deployments_graph(prod, make_policy):
    make_policy(selection="group:sales", emails=["sales@acme.test"])
    make_policy(selection="clean_orders+", emails=["downstream@acme.test"])
    make_policy(selection="nothing_like_this, raw_orders", emails=["raw@acme.test"])
    make_policy(emails=["all@acme.test"])  # no selection: everything

    def violation(asset: str):
        return services.open_incident(
            deployment=prod,
            kind="freshness_violation",
            key=f"freshness:{asset}",
            details={},
            subject=AlertSubject(asset_keys=(asset,)),
        )

    assert _notified(violation("raw_orders")) == {
        "sales@acme.test",
        "raw@acme.test",
        "all@acme.test",
    }
    assert _notified(violation("revenue_report")) == {"downstream@acme.test", "all@acme.test"}


def test_a_clause_after_or_naming_an_unknown_asset_spoils_only_itself(prod, make_policy):
    """docs/alerts.md: `or` is a union like `,`; the clause naming an asset not in the graph
    matches nothing, the other still matches."""
    make_policy(selection="nothing_like_this or raw_orders", emails=["raw@acme.test"])
    make_policy(selection="group:reports OR nothing_like_this", emails=["reports@acme.test"])
    incident = services.open_incident(
        deployment=prod,
        kind="freshness_violation",
        key="freshness:raw_orders",
        details={},
        subject=AlertSubject(asset_keys=("raw_orders",)),
    )
    assert _notified(incident) == {"raw@acme.test"}


def test_tags_target_runs_by_their_tags_and_do_not_filter_agent_incidents(prod, make_policy):
    make_policy(kinds=["run_failure", "agent_offline"], tags={"team": "finance"}, emails=["f@x.io"])

    def run_failure(run_id: str, tags: dict):
        return services.open_incident(
            deployment=prod,
            kind="run_failure",
            key=f"run:{run_id}",
            details={},
            subject=AlertSubject(asset_keys=("clean_orders",), tags=tags),
        )

    assert _notified(run_failure("1", {"team": "finance", "x": "y"})) == {"f@x.io"}
    assert _notified(run_failure("2", {"team": "marketing"})) == set()
    assert _notified(run_failure("3", {})) == set()
    agent = services.open_incident(deployment=prod, kind="agent_offline", key="agent:a", details={})
    assert _notified(agent) == {"f@x.io"}


def test_check_failures_respect_the_minimum_severity(prod, make_policy):
    make_policy(kinds=["check_failure"], min_check_severity="WARN", emails=["warn@acme.test"])
    make_policy(kinds=["check_failure"], min_check_severity="ERROR", emails=["error@acme.test"])

    def check_failed(severity: str):
        return services.open_incident(
            deployment=prod,
            kind="check_failure",
            key=f"check:clean_orders:orders_not_empty:{severity}",
            details={"severity": severity},
            subject=AlertSubject(asset_keys=("clean_orders",), severity=severity),
        )

    assert _notified(check_failed("WARN")) == {"warn@acme.test"}
    assert _notified(check_failed("ERROR")) == {"warn@acme.test", "error@acme.test"}


def test_disabled_policy_is_not_notified(prod, make_policy):
    make_policy(emails=["off@acme.test"], enabled=False)
    incident = services.open_incident(
        deployment=prod, kind="freshness_violation", key="freshness:raw_orders", details={}
    )
    assert _notified(incident) == set()


def test_open_incident_refuses_another_organizations_context(prod, globex):
    with tenant_context(globex.ctx()), pytest.raises(RuntimeError, match="another organization"):
        services.open_incident(deployment=prod, kind="agent_offline", key="a", details={})


@asset(tags={"team": "finance"}, owners=["ana@acme.test"])
def ledger() -> int:
    return 0


@asset
def scratch(ledger: int) -> int:
    return ledger


def test_tags_and_owners_of_assets_come_from_the_stored_snapshot(acme, prod, make_policy):
    snapshot = build_snapshot(Definitions(assets=[ledger, scratch]))
    with tenant_context(acme.ctx()):
        record_location_snapshot(
            ctx=agent_ctx(acme.ctx()),
            deployment=prod,
            location_name="finance",
            ok=True,
            snapshot_json=snapshot.to_json().encode(),
            snapshot_id=snapshot.snapshot_id,
            snapshot_version=1,
        )
    make_policy(tags={"team": "finance"}, emails=["tagged@acme.test"])
    make_policy(selection="owner:ana@acme.test+", emails=["owner@acme.test"])

    def violation(asset: str):
        return services.open_incident(
            deployment=prod,
            kind="freshness_violation",
            key=f"freshness:{asset}",
            details={},
            subject=AlertSubject(asset_keys=(asset,)),
        )

    assert _notified(violation("ledger")) == {"tagged@acme.test", "owner@acme.test"}
    assert _notified(violation("scratch")) == {"owner@acme.test"}
    assert _notified(violation("raw_orders")) == set()


def test_unreadable_snapshot_makes_targeted_policies_match_and_is_logged(prod, make_policy, caplog):
    LocationSnapshot.objects.unscoped().filter(deployment=prod).update(snapshot_json="{broken")
    make_policy(selection="group:reports", emails=["reports@acme.test"])
    incident = services.open_incident(
        deployment=prod,
        kind="freshness_violation",
        key="freshness:raw_orders",
        details={},
        subject=AlertSubject(asset_keys=("raw_orders",)),
    )
    assert _notified(incident) == {"reports@acme.test"}
    assert "cannot build the asset graph" in caplog.text

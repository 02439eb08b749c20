"""The deployment graph every reader shares (automation, freshness, alert targeting): built
once per deployment and set of snapshots, replaced when a location loads new definitions."""

from __future__ import annotations

from assay import Definitions, FreshnessPolicy, asset
from control_plane.alerts.targeting import AlertSubject, PolicyMatcher
from control_plane.catalog import deployment_graph as graphs
from control_plane.catalog.freshness import freshness_graph
from control_plane.core.context import tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.models import Deployment
from tests.control_plane.factories import load_location


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=60), tags={"team": "finance"})
def ledger() -> int:
    return 1


@asset(owners=["ana@acme.test"])
def scratch(ledger: int) -> int:
    return ledger


def _deployments(world, count: int) -> list[Deployment]:
    """``count`` deployments, each with a code location of its own definitions."""
    made = []
    with tenant_context(world.ctx()):
        for i in range(count):
            made.append(services.create_deployment(ctx=world.ctx(), name=f"d{i}"))
    for i, deployment in enumerate(made):
        own = asset(name=f"report_{i}", deps=["ledger"])(lambda: None)
        definitions = Definitions(assets=[ledger, scratch, own])
        load_location(world.ctx(), deployment=deployment, name="finance", definitions=definitions)
    return made


def _graph(world, deployment: Deployment) -> graphs.DeploymentGraph:
    with tenant_context(world.ctx()):
        graph = graphs.deployment_graph(deployment=deployment)
    assert graph is not None
    return graph


def test_the_graph_of_each_of_many_deployments_is_built_once(acme):
    deployments = _deployments(acme, 12)  # more than any fixed number of cached graphs
    first = [_graph(acme, d) for d in deployments]
    again = [_graph(acme, d) for d in deployments]  # the daemon visits them round-robin
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_new_definitions_replace_the_deployments_graph_and_every_reader_sees_them(acme):
    (deployment,) = _deployments(acme, 1)
    before = _graph(acme, deployment)
    with tenant_context(acme.ctx()):
        assert set(freshness_graph(deployment).nodes) == {ledger.key}
        matcher = PolicyMatcher(deployment=deployment, kind="x", subject=AlertSubject())
        assert matcher.graph is before.graph

    @asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=5))
    def audit() -> int:
        return 1

    load_location(
        acme.ctx(),
        deployment=deployment,
        name="finance",
        definitions=Definitions(assets=[ledger, audit]),
    )
    after = _graph(acme, deployment)
    assert after is not before and set(after.graph.nodes) == {ledger.key, audit.key}
    with tenant_context(acme.ctx()):
        assert set(freshness_graph(deployment).nodes) == {ledger.key, audit.key}
    assert _graph(acme, deployment) is after


def test_only_the_deployments_still_served_keep_a_graph(acme):
    kept, dropped = _deployments(acme, 2)
    kept_graph = _graph(acme, kept)
    dropped_graph = _graph(acme, dropped)
    graphs.retain(deployment_ids=[kept.pk])
    assert _graph(acme, kept) is kept_graph
    assert _graph(acme, dropped) is not dropped_graph  # rebuilt when asked again

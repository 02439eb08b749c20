"""Which incidents a policy covers: by kind, check severity, asset selection and tags.

Selections use the SDK's syntax (``assay.selection``) over the deployment's current asset
graph (``catalog.deployment_graph``, rebuilt from the code locations' stored snapshots,
which carry tags, owners and kinds).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from assay.definitions.asset_key import AssetKey
from assay.errors import InvalidSelection
from assay.graph import AssetGraph
from assay.selection import select_keys, selection_clauses
from control_plane.alerts.models import AlertPolicy, CheckSeverity, IncidentKind
from control_plane.catalog.deployment_graph import deployment_graph
from control_plane.tenancy.models import Deployment

logger = logging.getLogger(__name__)

_SEVERITY_RANK = {CheckSeverity.WARN.value: 1, CheckSeverity.ERROR.value: 2}


@dataclass(frozen=True)
class AlertSubject:
    """What an incident is about. ``None`` means "does not apply to this kind", so a policy's
    selection or tags do not filter it out (an offline agent concerns no asset)."""

    asset_keys: tuple[str, ...] | None = None
    tags: Mapping[str, str] | None = None
    severity: str | None = None  # check failures: WARN | ERROR


def severity_rank(severity: str | None) -> int:
    """A check severity's rank (``WARN`` < ``ERROR``). An unknown or missing severity counts
    as ``ERROR``: better one alert too many."""
    return _SEVERITY_RANK.get((severity or "ERROR").upper(), _SEVERITY_RANK["ERROR"])


class PolicyMatcher:
    """Decides which policies cover an incident; builds the asset graph at most once."""

    def __init__(self, *, deployment: Deployment, kind: str, subject: AlertSubject):
        self.deployment = deployment
        self.kind = kind
        self.subject = subject
        self._graph: AssetGraph | None = None
        self._graph_failed = False

    @property
    def graph(self) -> AssetGraph | None:
        """``None`` when the stored snapshots cannot be read: policies then match as if
        untargeted (one alert too many beats a silent failure), and the error is logged."""
        if self._graph is None and not self._graph_failed:
            try:
                shared = deployment_graph(deployment=self.deployment)
                self._graph = AssetGraph([]) if shared is None else shared.graph
            except Exception:
                self._graph_failed = True
                logger.exception(
                    "alerts: cannot build the asset graph of deployment %s; "
                    "ignoring selections and asset tags for this incident",
                    self.deployment.pk,
                )
        return self._graph

    def matches(self, policy: AlertPolicy) -> bool:
        if not policy.enabled or self.kind not in policy.kinds:
            return False
        if self.kind == IncidentKind.CHECK_FAILURE and not self._severity_matches(policy):
            return False
        if policy.selection and self.subject.asset_keys is not None:
            selected = self._selected(policy)
            if selected is not None and not set(self.subject.asset_keys) & selected:
                return False
        return not policy.tags or self._tags_match(policy.tags)

    def _severity_matches(self, policy: AlertPolicy) -> bool:
        return severity_rank(self.subject.severity) >= _SEVERITY_RANK[policy.min_check_severity]

    def _selected(self, policy: AlertPolicy) -> set[str] | None:
        """Clause by clause, so one clause naming a since-removed asset spoils only itself.
        ``None``: unknown (no graph)."""
        graph = self.graph
        if graph is None:
            return None
        selected: set[str] = set()
        for clause in selection_clauses(policy.selection):
            try:
                keys = select_keys(graph, clause)
            except InvalidSelection as error:
                logger.warning(
                    "alert policy %s (%s): selection clause %r matches nothing: %s",
                    policy.pk,
                    policy.name,
                    clause,
                    error,
                )
                continue
            selected.update(k.to_user_string() for k in keys)
        return selected

    def _tags_match(self, wanted: Mapping[str, str]) -> bool:
        """The subject's own tags (a run's) or any of its assets' tags must carry them all."""
        subject = self.subject
        if subject.tags is None and subject.asset_keys is None:
            return True

        def carries(tags: Mapping[str, str]) -> bool:
            return all(tags.get(k) == v for k, v in wanted.items())

        if subject.tags is not None and carries(subject.tags):
            return True
        if not subject.asset_keys:
            return False
        graph = self.graph
        if graph is None:
            return subject.tags is None  # asset tags unknown: match rather than stay silent
        nodes = (graph.nodes.get(AssetKey.from_user_string(k)) for k in subject.asset_keys)
        return any(node is not None and carries(node.spec.tags) for node in nodes)

"""The asset graph: dependencies, topological order, lineage and blast radius."""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetsDefinition, AssetSpec
from assay.definitions.checks import AssetChecksDefinition
from assay.errors import CycleError, DefinitionError, DuplicateKeyError
from assay.graph_partitions import validate_partitions


@dataclass
class AssetNode:
    """One asset in the graph and where it comes from."""

    key: AssetKey
    spec: AssetSpec
    assets_def: AssetsDefinition | None
    parents: tuple[AssetKey, ...] = ()
    children: list[AssetKey] = field(default_factory=list)

    @property
    def is_external(self) -> bool:
        """Assay does not materialize it (a bare AssetSpec or an observable source)."""
        return self.assets_def is None or self.assets_def.is_observable

    @property
    def is_observable(self) -> bool:
        return self.assets_def is not None and self.assets_def.is_observable

    @property
    def is_materializable(self) -> bool:
        return self.assets_def is not None and not self.assets_def.is_observable

    @property
    def is_executable(self) -> bool:
        return self.assets_def is not None


class AssetGraph:
    """All assets and checks of a code location, validated: unique keys, known deps, no cycles."""

    def __init__(
        self,
        assets: Sequence[AssetsDefinition | AssetSpec],
        checks: Sequence[AssetChecksDefinition] = (),
        resource_keys: Iterable[str] = (),
    ) -> None:
        self.nodes: dict[AssetKey, AssetNode] = {}
        self.assets_defs: dict[str, AssetsDefinition] = {}
        self.inputs: dict[str, dict[str, AssetKey]] = {}
        self.extra_resource_params: dict[str, tuple[str, ...]] = {}
        self.checks: dict[str, AssetChecksDefinition] = {}
        self.checks_by_asset: dict[AssetKey, list[AssetChecksDefinition]] = {}
        self._resource_keys = frozenset(resource_keys)
        self._by_name: dict[str, list[AssetKey]] | None = None
        self._add_nodes(assets)
        self._add_checks(checks)
        self._link()
        self.toposorted: list[AssetKey] = self._toposort()
        self._order = {k: i for i, k in enumerate(self.toposorted)}
        # Whether any asset is partitioned: unpartitioned runs then skip partition logic.
        self.has_partitions: bool = validate_partitions(self)

    # ---- building -------------------------------------------------------------------------
    def _add_nodes(self, assets: Sequence[AssetsDefinition | AssetSpec]) -> None:
        for item in assets:
            if isinstance(item, AssetSpec):
                self._add_node(AssetNode(item.key, item, None))
            elif isinstance(item, AssetsDefinition):
                if self.assets_defs.get(item.name) is item:
                    continue  # the same definition listed twice is harmless
                if item.name in self.assets_defs:
                    raise DuplicateKeyError(
                        f"two asset definitions are named '{item.name}'; names must be unique"
                    )
                self.assets_defs[item.name] = item
                for spec in item.specs:
                    self._add_node(AssetNode(spec.key, spec, item))
            else:
                raise DefinitionError(
                    f"{item!r} is not an asset: pass @asset/@multi_asset functions or AssetSpecs"
                )
        self._by_name = None

    def _add_node(self, node: AssetNode) -> None:
        existing = self.nodes.get(node.key)
        if existing is not None:
            where = existing.assets_def.name if existing.assets_def else "an AssetSpec"
            other = node.assets_def.name if node.assets_def else "an AssetSpec"
            raise DuplicateKeyError(
                f"asset key '{node.key}' is defined twice (by {where} and by {other})"
            )
        self.nodes[node.key] = node

    def _add_checks(self, checks: Sequence[AssetChecksDefinition]) -> None:
        for check in checks:
            if not isinstance(check, AssetChecksDefinition):
                raise DefinitionError(f"{check!r} is not an asset check (use @asset_check)")
            if self.checks.get(check.name) is check:
                continue
            if check.name in self.checks:
                raise DuplicateKeyError(f"asset check '{check.name}' is defined twice")
            if check.asset_key not in self.nodes:
                raise DefinitionError(
                    f"check '{check.name}' targets asset '{check.asset_key}', which is not "
                    f"defined{self.suggest(check.asset_key)}"
                )
            self.checks[check.name] = check
            self.checks_by_asset.setdefault(check.asset_key, []).append(check)
            self.inputs[check.name] = self._resolve_inputs(
                check.name, check.ins, check.asset_key, check.name
            )

    def _names(self) -> dict[str, list[AssetKey]]:
        if self._by_name is None:
            by_name: dict[str, list[AssetKey]] = {}
            for key in self.nodes:
                by_name.setdefault(key.name, []).append(key)
            self._by_name = by_name
        return self._by_name

    def suggest(self, key: AssetKey) -> str:
        """`; did you mean 'x'?` for a key not in the graph (empty when nothing is close)."""
        names = [k.to_user_string() for k in self.nodes]
        close = difflib.get_close_matches(key.to_user_string(), names, n=3, cutoff=0.6)
        return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""

    def _suggest_or_external(self, key: AssetKey) -> str:
        """A likely typo's correction, else how to declare data Assay does not produce."""
        return self.suggest(key) or (
            f"; if Assay does not produce it, declare it with AssetSpec('{key.to_user_string()}')"
        )

    def _resolve_inputs(
        self, owner: str, ins: Mapping, consumer_key: AssetKey | None, def_name: str
    ) -> dict[str, AssetKey]:
        resolved: dict[str, AssetKey] = {}
        extra_resources: list[str] = []
        for param, asset_in in ins.items():
            if asset_in.key is not None:
                if asset_in.key not in self.nodes:
                    raise DefinitionError(
                        f"'{owner}' loads '{asset_in.key}' (parameter '{param}'), which is not "
                        f"defined{self.suggest(asset_in.key)}"
                    )
                resolved[param] = asset_in.key
                continue
            direct = AssetKey([param])
            if direct in self.nodes:
                resolved[param] = direct
                continue
            candidates = self._names().get(param, [])
            if len(candidates) > 1 and consumer_key is not None:
                same_prefix = [c for c in candidates if c.path[:-1] == consumer_key.path[:-1]]
                candidates = same_prefix or candidates
            if len(candidates) == 1:
                resolved[param] = candidates[0]
            elif len(candidates) > 1:
                listed = ", ".join(f"'{c}'" for c in candidates)
                raise DefinitionError(
                    f"'{owner}': parameter '{param}' could mean {listed}; "
                    f"say which with ins={{'{param}': AssetIn('...')}}"
                )
            elif param in self._resource_keys:
                extra_resources.append(param)
            else:
                hint = self.suggest(direct) or (
                    f"; declare data Assay does not produce with AssetSpec('{param}'), or "
                    f"provide a resource named '{param}'"
                )
                raise DefinitionError(
                    f"'{owner}': parameter '{param}' names no asset and no resource{hint}"
                )
        if extra_resources:
            self.extra_resource_params[def_name] = tuple(extra_resources)
        return resolved

    def _link(self) -> None:
        nodes = self.nodes
        for assets_def in self.assets_defs.values():
            consumer = assets_def.keys[0]
            inputs = self._resolve_inputs(
                assets_def.name, assets_def.ins, consumer, assets_def.name
            )
            self.inputs[assets_def.name] = inputs
            input_keys = tuple(inputs.values())
            for spec in assets_def.specs:
                parents = tuple(dict.fromkeys((*input_keys, *spec.deps)))
                nodes[spec.key].parents = parents
        for node in nodes.values():
            if node.assets_def is None and node.spec.deps:
                node.parents = node.spec.deps
            for parent in node.parents:
                parent_node = nodes.get(parent)
                if parent_node is None:
                    raise DefinitionError(
                        f"asset '{node.key}' depends on '{parent}', which is not defined"
                        f"{self._suggest_or_external(parent)}"
                    )
                if parent == node.key:
                    raise CycleError(f"asset '{node.key}' depends on itself")
                parent_node.children.append(node.key)

    def _toposort(self) -> list[AssetKey]:
        nodes = self.nodes
        indegree = {k: len(n.parents) for k, n in nodes.items()}
        ready = deque(k for k, d in indegree.items() if d == 0)
        order: list[AssetKey] = []
        while ready:
            key = ready.popleft()
            order.append(key)
            for child in nodes[key].children:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) != len(nodes):
            remaining = {k for k, d in indegree.items() if d > 0}
            raise CycleError("assets form a cycle: " + self._describe_cycle(remaining))
        return order

    def _describe_cycle(self, remaining: set[AssetKey]) -> str:
        start = min(remaining)
        path = [start]
        seen = {start: 0}
        current = start
        while True:
            current = min(p for p in self.nodes[current].parents if p in remaining)
            if current in seen:
                cycle = [*path[seen[current] :], current]
                cycle.reverse()  # parents were followed, so reverse into dependency order
                return " -> ".join(k.to_user_string() for k in cycle)
            seen[current] = len(path)
            path.append(current)

    # ---- queries --------------------------------------------------------------------------
    @property
    def keys(self) -> list[AssetKey]:
        return list(self.nodes)

    def get(self, key: AssetKey) -> AssetNode:
        return self.nodes[key]

    def sort(self, keys: Iterable[AssetKey]) -> list[AssetKey]:
        """Keys in dependency order (parents first)."""
        return sorted(keys, key=self._order.__getitem__)

    def upstream(
        self, keys: Iterable[AssetKey], *, depth: int | None = None, include_self: bool = True
    ) -> set[AssetKey]:
        """Every asset the given ones (transitively) depend on, optionally within `depth` hops."""
        return self._walk(keys, depth, include_self, lambda n: n.parents)

    def downstream(
        self, keys: Iterable[AssetKey], *, depth: int | None = None, include_self: bool = True
    ) -> set[AssetKey]:
        """Every asset that (transitively) depends on the given ones."""
        return self._walk(keys, depth, include_self, lambda n: n.children)

    def blast_radius(self, keys: Iterable[AssetKey]) -> set[AssetKey]:
        """The assets a change to `keys` could break: all their descendants, not themselves."""
        keys = set(keys)
        return self.downstream(keys, include_self=False) - keys

    def _walk(self, keys, depth, include_self, neighbours) -> set[AssetKey]:  # type: ignore[no-untyped-def]
        start = set(keys)
        seen: set[AssetKey] = set(start)
        frontier = list(start)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            nxt = []
            for key in frontier:
                for other in neighbours(self.nodes[key]):
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
        return seen if include_self else seen - start

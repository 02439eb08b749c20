"""Assets: `@asset`, `@multi_asset`, `AssetSpec`, `AssetIn` and `@observable_source_asset`."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pickle
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.errors import DefinitionError

CONTEXT_PARAM_NAMES = frozenset({"context", "ctx"})


@dataclass(frozen=True)
class AssetIn:
    """How a parameter maps to an upstream asset (by default: the asset named like it)."""

    key: AssetKey | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Seam for the partitions engine: stored, interpreted there.
    partition_mapping: Any = None

    def __init__(
        self,
        key: CoercibleToAssetKey | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        partition_mapping: Any = None,
    ) -> None:
        object.__setattr__(self, "key", AssetKey.from_coercible(key) if key is not None else None)
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "partition_mapping", partition_mapping)


@dataclass(frozen=True)
class AssetSpec:
    """Everything Assay knows about one asset except how to compute it.

    On its own in `Definitions(assets=[...])` it declares an *external* asset:
    one Assay tracks and can observe, but does not materialize.
    """

    key: AssetKey
    deps: tuple[AssetKey, ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    group_name: str | None = None
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset()
    code_version: str | None = None
    # Seams for partitions and automation, stored opaquely for the engines that interpret them.
    partitions_def: Any = None
    automation_condition: Any = None
    freshness_policy: Any = None
    # Output column -> the upstream columns that feed it (see assay.column_lineage).
    column_lineage: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __init__(
        self,
        key: CoercibleToAssetKey,
        *,
        deps: Iterable[Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        group_name: str | None = None,
        owners: Iterable[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
        code_version: str | None = None,
        partitions_def: Any = None,
        automation_condition: Any = None,
        freshness_policy: Any = None,
        column_lineage: Mapping[str, Iterable[Any]] | None = None,
    ) -> None:
        from assay.column_lineage import coerce_column_lineage

        set_ = object.__setattr__
        set_(self, "key", AssetKey.from_coercible(key))
        set_(self, "deps", coerce_deps(deps))
        set_(self, "description", description)
        set_(self, "metadata", dict(metadata or {}))
        set_(self, "group_name", group_name)
        set_(self, "owners", tuple(owners or ()))
        set_(self, "tags", _validate_tags(tags))
        set_(self, "kinds", frozenset(kinds or ()))
        set_(self, "code_version", code_version)
        set_(self, "partitions_def", partitions_def)
        set_(self, "automation_condition", automation_condition)
        set_(self, "freshness_policy", freshness_policy)
        set_(self, "column_lineage", coerce_column_lineage(column_lineage))

    def replace(self, **changes: Any) -> AssetSpec:
        return replace(self, **changes)


def _validate_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (tags or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise DefinitionError(f"tags must map strings to strings, got {k!r}: {v!r}")
        out[k] = v
    return out


def coerce_deps(deps: Iterable[Any] | None) -> tuple[AssetKey, ...]:
    """Turn what users pass as `deps=` (keys, strings, assets, specs) into keys, in order."""
    out: list[AssetKey] = []
    for dep in deps or ():
        if isinstance(dep, AssetsDefinition):
            out.extend(dep.keys)
        else:
            out.append(AssetKey.from_coercible(dep))
    return tuple(dict.fromkeys(out))


class AssetsDefinition:
    """One computation that materializes (or observes) one or more assets.

    Built by `@asset`, `@multi_asset` or `@observable_source_asset`; users pass
    it to `Definitions` and `materialize`, and may still call it directly in
    unit tests.
    """

    def __init__(
        self,
        *,
        fn: Callable[..., Any] | None,
        name: str,
        specs: Sequence[AssetSpec],
        ins: Mapping[str, AssetIn],
        resource_params: Sequence[str] = (),
        context_param: str | None = None,
        io_manager_key: str = "io_manager",
        required_resource_keys: Iterable[str] = (),
        check_specs: Sequence[Any] = (),
        is_observable: bool = False,
        backfill_policy: Any = None,
        can_subset: bool = False,
    ) -> None:
        self.fn = fn
        self.name = name
        self.specs = tuple(specs)
        self.specs_by_key = {s.key: s for s in self.specs}
        if len(self.specs_by_key) != len(self.specs):
            raise DefinitionError(f"'{name}' declares the same asset key twice")
        self.keys = tuple(s.key for s in self.specs)
        self.ins = dict(ins)
        self.resource_params = tuple(resource_params)
        self.context_param = context_param
        self.io_manager_key = io_manager_key
        self.required_resource_keys = frozenset(required_resource_keys)
        self.check_specs = tuple(check_specs)
        self.is_observable = is_observable
        self.backfill_policy = backfill_policy
        # A subsettable multi-asset runs only the selected keys (`context.asset_keys`), and
        # may report some of them failed while the others materialize (`AssetFailure`).
        self.can_subset = can_subset
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def key(self) -> AssetKey:
        """The asset key of a single-asset definition."""
        if len(self.keys) != 1:
            raise DefinitionError(
                f"'{self.name}' produces {len(self.keys)} assets; use .keys instead of .key"
            )
        return self.keys[0]

    @property
    def spec(self) -> AssetSpec:
        return self.specs_by_key[self.key]

    # Convenience accessors used by tests and the snapshot for single assets.
    @property
    def group_name(self) -> str | None:
        return self.spec.group_name

    @property
    def partitions_def(self) -> Any:
        return self.specs[0].partitions_def if self.specs else None

    @property
    def automation_condition(self) -> Any:
        return self.spec.automation_condition

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly, as unit tests do."""
        if self.fn is None:
            raise DefinitionError(f"'{self.name}' has no function to call")
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        keys = ", ".join(k.to_user_string() for k in self.keys)
        return f"<AssetsDefinition {self.name} [{keys}]>"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return reduce_by_reference(self, self.fn)


def reduce_by_reference(obj: object, fn: Callable[..., Any] | None) -> tuple[Any, ...]:
    """Pickle a definition as "module + attribute" so worker processes re-import user code."""
    module_name = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    module = sys.modules.get(module_name or "")
    if module is not None and "<locals>" not in qualname and getattr(module, qualname, None) is obj:
        return (resolve_reference, (module_name, qualname))
    raise pickle.PicklingError(
        f"{obj!r} cannot be sent to another process: define it at the top level of an "
        "importable module (or load it with -m/-f) to use the multiprocess executor"
    )


def resolve_reference(module_name: str, qualname: str) -> Any:
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    return getattr(module, qualname)


def _is_resource_annotation(annotation: Any) -> bool:
    from assay.definitions.io_managers import IOManager
    from assay.definitions.resources import ConfigurableResource

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return inspect.isclass(annotation) and issubclass(annotation, ConfigurableResource | IOManager)


@dataclass(frozen=True)
class _Signature:
    context_param: str | None
    input_params: tuple[str, ...]
    resource_params: tuple[str, ...]


def analyse_signature(fn: Callable[..., Any]) -> _Signature:
    """Split a function's parameters into context, upstream inputs and resources."""
    hints: dict[str, Any] = dict(getattr(fn, "__annotations__", None) or {})
    if any(isinstance(v, str) for v in hints.values()):
        # Unresolvable forward references: keep the raw annotations.
        with contextlib.suppress(Exception):
            hints = typing.get_type_hints(fn, include_extras=True)
    context_param = None
    inputs: list[str] = []
    resources: list[str] = []
    for name in _parameter_names(fn):
        annotation = hints.get(name)
        if name in CONTEXT_PARAM_NAMES or _is_context_annotation(annotation):
            context_param = name
        elif annotation is not None and _is_resource_annotation(annotation):
            resources.append(name)
        else:
            inputs.append(name)
    return _Signature(context_param, tuple(inputs), tuple(resources))


_CO_VARARGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def _parameter_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Parameter names, read straight from the code object when possible (signature() is slow)."""
    code = getattr(fn, "__code__", None)
    if isinstance(fn, types.FunctionType) and code is not None:
        if code.co_flags & _CO_VARARGS:
            raise DefinitionError(f"'{fn.__name__}': *args and **kwargs are not supported")
        count = code.co_argcount + code.co_kwonlyargcount
        return code.co_varnames[:count]
    names = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"'{fn!r}': *args and **kwargs are not supported")
        names.append(param.name)
    return tuple(names)


def _is_context_annotation(annotation: Any) -> bool:
    return inspect.isclass(annotation) and annotation.__name__.endswith("ExecutionContext")


def _name_of(fn: Callable[..., Any]) -> str:
    return fn.__name__


def asset(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    key: CoercibleToAssetKey | None = None,
    key_prefix: str | Sequence[str] | None = None,
    deps: Iterable[Any] | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    group_name: str | None = None,
    owners: Iterable[str] | None = None,
    tags: Mapping[str, str] | None = None,
    kinds: Iterable[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    code_version: str | None = None,
    io_manager_key: str = "io_manager",
    required_resource_keys: Iterable[str] | None = None,
    check_specs: Sequence[Any] | None = None,
    partitions_def: Any = None,
    automation_condition: Any = None,
    backfill_policy: Any = None,
    freshness_policy: Any = None,
    column_lineage: Mapping[str, Iterable[Any]] | None = None,
) -> Any:
    """Declare one asset computed by the decorated function.

    Parameters named like other assets receive their values (loaded by the IO
    manager); `deps=` adds order-only dependencies. `column_lineage=` says which upstream
    columns feed each of its columns (by hand, or from SQL with
    `assay.column_lineage.column_lineage_from_sql`).
    """

    def decorate(f: Callable[..., Any]) -> AssetsDefinition:
        if key is not None and (name is not None or key_prefix is not None):
            raise DefinitionError(f"'{f.__name__}': pass key= or name=/key_prefix=, not both")
        asset_key = (
            AssetKey.from_coercible(key) if key is not None else AssetKey([name or _name_of(f)])
        )
        if key_prefix is not None:
            asset_key = asset_key.with_prefix(key_prefix)
        sig = analyse_signature(f)
        explicit_ins = dict(ins or {})
        for param in explicit_ins:
            if param not in sig.input_params:
                raise DefinitionError(
                    f"'{asset_key}': ins= names '{param}', which is not a parameter of "
                    f"{f.__name__}()"
                )
        all_ins = {p: explicit_ins.get(p, AssetIn()) for p in sig.input_params}
        spec = AssetSpec(
            asset_key,
            deps=deps,
            description=description or inspect.getdoc(f),
            metadata=metadata,
            group_name=group_name,
            owners=owners,
            tags=tags,
            kinds=kinds,
            code_version=code_version,
            partitions_def=partitions_def,
            automation_condition=automation_condition,
            freshness_policy=freshness_policy,
            column_lineage=column_lineage,
        )
        return AssetsDefinition(
            fn=f,
            name=asset_key.to_user_string(),
            specs=[spec],
            ins=all_ins,
            resource_params=sig.resource_params,
            context_param=sig.context_param,
            io_manager_key=io_manager_key,
            required_resource_keys=required_resource_keys or (),
            check_specs=check_specs or (),
            backfill_policy=backfill_policy,
        )

    return decorate(fn) if fn is not None else decorate


def multi_asset(
    *,
    specs: Sequence[AssetSpec],
    name: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    group_name: str | None = None,
    io_manager_key: str = "io_manager",
    required_resource_keys: Iterable[str] | None = None,
    check_specs: Sequence[Any] | None = None,
    partitions_def: Any = None,
    backfill_policy: Any = None,
    automation_condition: Any = None,
    freshness_policy: Any = None,
    can_subset: bool = False,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """Declare one function that produces several assets (e.g. one query, many tables).

    The function returns a tuple of values in `specs` order, or yields
    `Output(value, asset_key=...)` / `MaterializeResult(asset_key=...)` per asset.
    `partitions_def`, `automation_condition` and `freshness_policy` apply to every
    spec that does not set its own. With `can_subset=True` a run selecting some of the
    keys runs the function for those only (`context.asset_keys`); it yields a result for
    each and may yield `AssetFailure` for those that failed.
    """
    if not specs:
        raise DefinitionError("multi_asset needs at least one AssetSpec")

    def decorate(f: Callable[..., Any]) -> AssetsDefinition:
        sig = analyse_signature(f)
        explicit_ins = dict(ins or {})
        all_ins = {p: explicit_ins.get(p, AssetIn()) for p in sig.input_params}
        shared_deps = coerce_deps(deps)
        final_specs = []
        for spec in specs:
            changes: dict[str, Any] = {}
            if shared_deps:
                changes["deps"] = tuple(dict.fromkeys((*spec.deps, *shared_deps)))
            if group_name and spec.group_name is None:
                changes["group_name"] = group_name
            if partitions_def is not None and spec.partitions_def is None:
                changes["partitions_def"] = partitions_def
            if automation_condition is not None and spec.automation_condition is None:
                changes["automation_condition"] = automation_condition
            if freshness_policy is not None and spec.freshness_policy is None:
                changes["freshness_policy"] = freshness_policy
            final_specs.append(spec.replace(**changes) if changes else spec)
        return AssetsDefinition(
            fn=f,
            name=name or f.__name__,
            specs=final_specs,
            ins=all_ins,
            resource_params=sig.resource_params,
            context_param=sig.context_param,
            io_manager_key=io_manager_key,
            required_resource_keys=required_resource_keys or (),
            check_specs=check_specs or (),
            backfill_policy=backfill_policy,
            can_subset=can_subset,
        )

    return decorate


def observable_source_asset(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    key: CoercibleToAssetKey | None = None,
    key_prefix: str | Sequence[str] | None = None,
    group_name: str | None = None,
    owners: Iterable[str] | None = None,
    tags: Mapping[str, str] | None = None,
    kinds: Iterable[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    io_manager_key: str = "io_manager",
    required_resource_keys: Iterable[str] | None = None,
    automation_condition: Any = None,
    freshness_policy: Any = None,
) -> Any:
    """Declare an external asset plus a function that observes it.

    The function returns an `AssetObservation` (or a data-version string); Assay
    records it but never materializes the asset.
    """

    def decorate(f: Callable[..., Any]) -> AssetsDefinition:
        asset_key = (
            AssetKey.from_coercible(key) if key is not None else AssetKey([name or f.__name__])
        )
        if key_prefix is not None:
            asset_key = asset_key.with_prefix(key_prefix)
        sig = analyse_signature(f)
        if sig.input_params:
            raise DefinitionError(
                f"observable source asset '{asset_key}' cannot take upstream inputs "
                f"({', '.join(sig.input_params)}); annotate resources with their class"
            )
        spec = AssetSpec(
            asset_key,
            description=description or inspect.getdoc(f),
            metadata=metadata,
            group_name=group_name,
            owners=owners,
            tags=tags,
            kinds=kinds,
            automation_condition=automation_condition,
            freshness_policy=freshness_policy,
        )
        return AssetsDefinition(
            fn=f,
            name=asset_key.to_user_string(),
            specs=[spec],
            ins={},
            resource_params=sig.resource_params,
            context_param=sig.context_param,
            io_manager_key=io_manager_key,
            required_resource_keys=required_resource_keys or (),
            is_observable=True,
        )

    return decorate(fn) if fn is not None else decorate

"""Asset checks: assertions about an asset's data, with severity and optional blocking."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.definitions.assets import (
    AssetIn,
    AssetsDefinition,
    analyse_signature,
    reduce_by_reference,
)
from assay.errors import DefinitionError


class AssetCheckSeverity(StrEnum):
    """How bad a failure is: WARN is reported; ERROR fails the check (and blocks, if blocking)."""

    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True)
class AssetCheckKey:
    """A check's identity: the asset it checks plus the check's name."""

    asset_key: AssetKey
    name: str

    def to_user_string(self) -> str:
        return f"{self.asset_key.to_user_string()}:{self.name}"

    def __str__(self) -> str:
        return self.to_user_string()


@dataclass(frozen=True)
class AssetCheckSpec:
    """A declared check, so catalogs know it exists before it ever runs."""

    name: str
    asset: AssetKey
    description: str | None = None
    blocking: bool = False

    def __init__(
        self,
        name: str,
        *,
        asset: Any,
        description: str | None = None,
        blocking: bool = False,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "asset", AssetKey.from_coercible(asset))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "blocking", blocking)

    @property
    def key(self) -> AssetCheckKey:
        return AssetCheckKey(self.asset, self.name)


@dataclass(frozen=True)
class AssetCheckResult:
    """The outcome of one check evaluation."""

    passed: bool
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    asset_key: AssetKey | None = None
    check_name: str | None = None

    def __init__(
        self,
        *,
        passed: bool,
        severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
        metadata: Mapping[str, Any] | None = None,
        description: str | None = None,
        asset_key: CoercibleToAssetKey | None = None,
        check_name: str | None = None,
    ) -> None:
        object.__setattr__(self, "passed", bool(passed))
        object.__setattr__(self, "severity", AssetCheckSeverity(severity))
        object.__setattr__(self, "metadata", dict(metadata or {}))
        object.__setattr__(self, "description", description)
        object.__setattr__(
            self, "asset_key", AssetKey.from_coercible(asset_key) if asset_key else None
        )
        object.__setattr__(self, "check_name", check_name)


class AssetChecksDefinition:
    """A function that evaluates one check on one asset, after that asset materializes."""

    def __init__(
        self,
        *,
        fn: Callable[..., Any],
        spec: AssetCheckSpec,
        ins: Mapping[str, AssetIn],
        resource_params: tuple[str, ...],
        context_param: str | None,
        required_resource_keys: Iterable[str] = (),
    ) -> None:
        self.fn = fn
        self.spec = spec
        self.ins = dict(ins)
        self.resource_params = resource_params
        self.context_param = context_param
        self.required_resource_keys = frozenset(required_resource_keys)
        self.__doc__ = fn.__doc__

    @property
    def key(self) -> AssetCheckKey:
        return self.spec.key

    @property
    def name(self) -> str:
        return self.key.to_user_string()

    @property
    def asset_key(self) -> AssetKey:
        return self.spec.asset

    @property
    def blocking(self) -> bool:
        return self.spec.blocking

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<AssetChecksDefinition {self.name}>"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return reduce_by_reference(self, self.fn)


def asset_check(
    fn: Callable[..., Any] | None = None,
    *,
    asset: Any,
    name: str | None = None,
    blocking: bool = False,
    description: str | None = None,
    additional_ins: Mapping[str, AssetIn] | None = None,
    required_resource_keys: Iterable[str] | None = None,
) -> Any:
    """Declare a check on `asset`; the function returns an `AssetCheckResult`.

    A parameter named like the checked asset receives its value. With
    `blocking=True`, a failed ERROR check skips the asset's downstream assets.
    """
    asset_key = AssetKey.from_coercible(asset)

    def decorate(f: Callable[..., Any]) -> AssetChecksDefinition:
        sig = analyse_signature(f)
        extra = dict(additional_ins or {})
        ins: dict[str, AssetIn] = {}
        for param in sig.input_params:
            if param in extra:
                ins[param] = extra[param]
            elif param == asset_key.name or len(sig.input_params) == 1:
                ins[param] = AssetIn(asset_key)
            else:
                ins[param] = AssetIn()
        spec = AssetCheckSpec(
            name or f.__name__,
            asset=asset_key,
            description=description or inspect.getdoc(f),
            blocking=blocking,
        )
        return AssetChecksDefinition(
            fn=f,
            spec=spec,
            ins=ins,
            resource_params=sig.resource_params,
            context_param=sig.context_param,
            required_resource_keys=required_resource_keys or (),
        )

    if isinstance(asset, AssetsDefinition) and len(asset.keys) != 1:
        raise DefinitionError(f"asset_check(asset=...) needs one asset; '{asset.name}' has several")
    return decorate(fn) if fn is not None else decorate

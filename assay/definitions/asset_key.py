"""AssetKey: the stable, path-like name of a data asset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Union

from assay.errors import DefinitionError

_SEPARATOR = "/"


class AssetKey:
    """An asset's identity: a path of strings such as ``analytics/daily_metrics``.

    Immutable and hashable, so it can key dictionaries on the hot path.
    """

    __slots__ = ("_hash", "path")
    _hash: int
    path: tuple[str, ...]

    def __init__(self, path: str | Sequence[str]) -> None:
        parts = (path,) if isinstance(path, str) else tuple(path)
        if not parts:
            raise DefinitionError("an asset key needs at least one path component")
        for part in parts:
            if not isinstance(part, str) or not part or _SEPARATOR in part:
                raise DefinitionError(
                    f"invalid asset key component {part!r} in {list(parts)!r}: "
                    "components are non-empty strings without '/'"
                )
        object.__setattr__(self, "path", parts)
        object.__setattr__(self, "_hash", hash(parts))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("AssetKey is immutable")

    @classmethod
    def from_user_string(cls, value: str) -> AssetKey:
        """Parse ``a/b/c`` (the form used on the command line and in docs)."""
        return cls([p for p in value.strip().split(_SEPARATOR)])

    @classmethod
    def from_coercible(cls, value: CoercibleToAssetKey) -> AssetKey:
        """Accept what users naturally write: an AssetKey, ``"a/b"``, or ``["a", "b"]``."""
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return cls.from_user_string(value)
        if isinstance(value, Iterable):
            return cls(list(value))
        key = getattr(value, "key", None)  # an AssetsDefinition or AssetSpec
        if isinstance(key, AssetKey):
            return key
        raise DefinitionError(f"cannot use {value!r} as an asset key")

    def to_user_string(self) -> str:
        return _SEPARATOR.join(self.path)

    def with_prefix(self, prefix: str | Sequence[str]) -> AssetKey:
        prefix_parts = [prefix] if isinstance(prefix, str) else list(prefix)
        return AssetKey([*prefix_parts, *self.path])

    @property
    def name(self) -> str:
        """The last path component: what a parameter that depends on this asset is called."""
        return self.path[-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetKey) and other.path == self.path

    def __hash__(self) -> int:
        return self._hash

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path

    def __repr__(self) -> str:
        return f"AssetKey({list(self.path)!r})"

    def __str__(self) -> str:
        return self.to_user_string()

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (AssetKey, (self.path,))


CoercibleToAssetKey = Union[AssetKey, str, Sequence[str]]  # noqa: UP007

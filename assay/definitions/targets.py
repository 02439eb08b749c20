"""What a schedule or sensor launches: a job, or a selection of assets, checked at load."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.jobs import AssetJob
from assay.errors import DefinitionError

if TYPE_CHECKING:
    from assay.graph import AssetGraph

Target = str | AssetJob | Iterable[Any] | None


def coerce_target(target: Target, job: AssetJob | None, *, where: str) -> str | AssetJob:
    """One of `target=` / `job=` as a job or a selection string."""
    if target is not None and job is not None:
        raise DefinitionError(f"{where}: pass target= or job=, not both")
    chosen = job if job is not None else target
    if chosen is None:
        raise DefinitionError(f"{where} needs a target: a job, a selection string, or assets")
    if isinstance(chosen, AssetJob | str):
        return chosen
    if isinstance(chosen, AssetKey) or hasattr(chosen, "keys") or hasattr(chosen, "key"):
        chosen = [chosen]  # one asset (definition, spec or key) targets just that asset
    keys: list[str] = []
    for item in chosen:
        if isinstance(item, AssetKey):
            keys.append(item.to_user_string())
        elif hasattr(item, "keys") and not isinstance(item, dict):
            keys.extend(k.to_user_string() for k in item.keys)
        elif isinstance(spec_key := getattr(item, "key", None), AssetKey):  # an AssetSpec
            keys.append(spec_key.to_user_string())
        else:
            keys.append(AssetKey.from_coercible(str(item)).to_user_string())
    if not keys:
        raise DefinitionError(f"{where}: the target selects no assets")
    return ", ".join(keys)


def validate_target(
    graph: AssetGraph, jobs: list[AssetJob], target: str | AssetJob, *, where: str
) -> None:
    """Fail at load when a target names an unknown job, or selects nothing that exists.

    A job object that is not listed in `Definitions(jobs=)` is added to it.
    """
    from assay.selection import select_keys

    if isinstance(target, AssetJob):
        listed = {j.name: j for j in jobs}
        if target.name not in listed:
            select_keys(graph, target.selection, where=f"job '{target.name}'")
            jobs.append(target)
        elif listed[target.name] != target:
            raise DefinitionError(
                f"{where} targets a job named '{target.name}' that differs from the "
                "job of that name in Definitions(jobs=)"
            )
        return
    if any(j.name == target for j in jobs):
        return
    select_keys(graph, target, where=where)


def selection_of(target: str | AssetJob, jobs: Iterable[AssetJob] = ()) -> str:
    """The selection string a target launches."""
    if isinstance(target, AssetJob):
        return target.selection
    for job in jobs:
        if job.name == target:
            return job.selection
    return target

"""A branch deployment's changes against its base, from the two deployments' current snapshots.

The SDK's ``assay.branch_diff`` does the work; this module only reads the snapshots (each
location's current, successfully loaded one) and names the locations that failed to load,
since a branch whose code does not import has no definitions to compare.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from assay.branch_diff import BranchDiff, diff_snapshots
from assay.snapshot import DefinitionsSnapshot
from control_plane.branches.models import BranchDeployment
from control_plane.catalog.models import LocationSnapshot
from control_plane.tenancy.models import Deployment


def _current(deployment: Deployment) -> tuple[list[DefinitionsSnapshot], dict[str, str]]:
    snapshots, errors = [], {}
    rows = LocationSnapshot.objects.filter(deployment=deployment, is_current=True).select_related(
        "code_location"
    )
    for row in rows:
        if row.status == LocationSnapshot.Status.OK:
            snapshots.append(DefinitionsSnapshot.from_json(row.snapshot_json))
        else:
            lines = (row.error or "").strip().splitlines()
            errors[row.code_location.name] = lines[-1] if lines else "failed to load"
    return snapshots, errors


def branch_diff(branch: BranchDeployment) -> tuple[BranchDiff | None, dict[str, Any]]:
    """The diff (None while the branch has no loaded location) and the load state."""
    if branch.deployment is None:
        return None, {"loaded": False, "location_errors": {}}
    branch_snaps, errors = _current(branch.deployment)
    state = {
        "loaded": bool(branch_snaps),
        "location_errors": errors,
        "loaded_commit": branch.loaded_commit or None,
        "loading": bool(branch.loaded_commit) and branch.loaded_commit != branch.commit,
    }
    if not branch_snaps:
        return None, state
    base_snaps, _ = _current(branch.base)
    return diff_snapshots(base_snaps, branch_snaps, current_time=timezone.now()), state


def keys_by_location(deployment: Deployment, keys: set[str]) -> dict[str, list[str]]:
    """``keys`` grouped by the code location that defines them (launches are per location)."""
    out: dict[str, list[str]] = {}
    rows = LocationSnapshot.objects.filter(
        deployment=deployment, is_current=True, status=LocationSnapshot.Status.OK
    ).select_related("code_location")
    for row in rows:
        defined = {a.key for a in DefinitionsSnapshot.from_json(row.snapshot_json).assets}
        mine = sorted(defined & keys)
        if mine:
            out[row.code_location.name] = mine
    return out


def branch_of(deployment: Deployment) -> BranchDeployment | None:
    """The pull request behind ``deployment``; None for a deployment that is no branch."""
    if deployment.kind != Deployment.Kind.BRANCH:
        return None
    return BranchDeployment.objects.select_related("base").filter(deployment=deployment).first()


def changed_in_branch(branch: BranchDeployment) -> set[str]:
    """Keys new or changed against the base (empty while nothing is loaded)."""
    diff, _ = branch_diff(branch)
    return set(diff.changed_keys) if diff is not None else set()

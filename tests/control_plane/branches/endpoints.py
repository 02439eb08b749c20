"""The branches app's REST endpoints for the tests that walk every endpoint (see
``tests/control_plane/api/endpoints.py``). The CI endpoints (``/ci/v1/``, CI tokens only)
and GitHub's signed webhook are outside ``/api/`` and tested in this directory."""

from __future__ import annotations

from typing import Any

from control_plane.branches import services
from control_plane.branches.services import BranchRequest


def build(victim) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    slug = victim.ctx.organization.slug
    branch, _ = services.create_or_update(
        ctx=victim.ctx,
        request=BranchRequest(
            repo=f"{slug}/warehouse", pr_number=7, branch=f"{slug}-feature", commit="a" * 40
        ),
    )
    return {"name": branch.name}


MUTATIONS = {
    ("ci-token-list", "post"): ({"name": "github-actions"}, "ci_token.create"),
    ("branch-close", "post"): ({}, "branch.close"),
    ("github-settings", "put"): ({"webhook_secret": "s" * 24}, "github.configure"),
}

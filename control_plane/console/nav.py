"""The console's navigation: each app registers its own entries, once, at start-up.

An entry names a URL and the action a principal needs to see it; the base template shows
the entries the current principal may use in the current organization or deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from control_plane.core.context import TenantContext
from control_plane.tenancy.models import Deployment, Organization
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str  # a URL taking ``org`` (and ``deployment`` when scope is "deployment")
    scope: str  # "deployment": shown under the selected deployment; "organization": org-wide
    action: Action | None = Action.VIEW  # None: every member of the organization
    order: int = 100


_ENTRIES: dict[str, NavEntry] = {}


def register(
    label: str,
    url_name: str,
    *,
    scope: str = "deployment",
    action: Action | None = Action.VIEW,
    order: int = 100,
) -> NavEntry:
    """Add a nav link (call from your AppConfig.ready()); registering a name twice replaces it."""
    if scope not in {"deployment", "organization"}:
        raise ValueError(f"nav scope must be 'deployment' or 'organization', not {scope!r}")
    entry = NavEntry(label=label, url_name=url_name, scope=scope, action=action, order=order)
    _ENTRIES[url_name] = entry
    return entry


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    scope: str
    active: bool


def links_for(ctx: TenantContext, *, current_url_name: str | None) -> list[NavLink]:
    """The entries ``ctx.principal`` may use, with their URLs in the current org/deployment."""
    links = []
    target: Organization | Deployment
    for entry in sorted(_ENTRIES.values(), key=lambda e: (e.scope != "deployment", e.order)):
        if entry.scope == "deployment":
            if ctx.deployment is None:
                continue
            target = ctx.deployment
            kwargs = {"org": ctx.organization.slug, "deployment": ctx.deployment.name}
        else:
            target = ctx.organization
            kwargs = {"org": ctx.organization.slug}
        if not _may_use(ctx, entry, target):
            continue
        links.append(
            NavLink(
                label=entry.label,
                url=reverse(entry.url_name, kwargs=kwargs),
                scope=entry.scope,
                active=entry.url_name == current_url_name,
            )
        )
    return links


def _may_use(ctx: TenantContext, entry: NavEntry, target: Organization | Deployment) -> bool:
    """Reading pages of a deployment are also for members granted some of its code
    locations only (the pages narrow themselves to those)."""
    if entry.action is None:
        return True
    narrowed = getattr(ctx, "locations", None) is not None
    if narrowed and entry.scope == "deployment" and entry.action is Action.VIEW:
        return True
    return is_allowed(ctx.principal, entry.action, target)

"""The (organization, deployment, principal) context a request or command runs in.

A request is resolved to a context once (``core.api.views.OrganizationScopedView``);
tenant-owned managers read it and fail closed when it is unset.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from control_plane.core.errors import TenancyContextMissing

if TYPE_CHECKING:
    from control_plane.tenancy.models import ApiToken, Deployment, Organization, User


@dataclass
class Principal:
    """Who acts: a user (by session or user token), an agent (agent token) or the system."""

    kind: str  # "user" | "agent" | "system"
    user: User | None = None
    token: ApiToken | None = None
    label: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def system(cls, label: str = "system") -> Principal:
        return cls(kind="system", label=label)

    @classmethod
    def for_user(cls, user: User, token: ApiToken | None = None) -> Principal:
        return cls(kind="user", user=user, token=token, label=user.email)

    @property
    def is_system(self) -> bool:
        return self.kind == "system"


@dataclass
class TenantContext:
    organization: Organization
    principal: Principal
    deployment: Deployment | None = None
    ip: str | None = None
    user_agent: str = ""

    @property
    def deployment_required(self) -> Deployment:
        """The deployment of a deployment-scoped request; a bug to ask for it elsewhere."""
        if self.deployment is None:
            raise TenancyContextMissing("this code runs for one deployment, and none is set")
        return self.deployment


_current: contextvars.ContextVar[TenantContext | None] = contextvars.ContextVar(
    "assay_tenant_context", default=None
)


def current_context() -> TenantContext:
    ctx = _current.get()
    if ctx is None:
        raise TenancyContextMissing(
            "tenant-scoped query outside an organization context; use tenant_context() "
            "or name a deliberate cross-tenant read with .unscoped()"
        )
    return ctx


def current_context_or_none() -> TenantContext | None:
    return _current.get()


@contextlib.contextmanager
def tenant_context(ctx: TenantContext) -> Iterator[TenantContext]:
    """Run a block inside ``ctx``; nested contexts restore the outer one on exit."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def activate(ctx: TenantContext) -> contextvars.Token:
    return _current.set(ctx)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)

"""Console-wide banners: apps register providers, the base template shows what they say.

A provider is ``provider(ctx) -> Banner | None``, registered once from an AppConfig's
``ready()`` (billing's past-due notice); each console page in an organization asks every
provider, so keep them to one indexed read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from control_plane.core.context import TenantContext


@dataclass(frozen=True)
class Banner:
    key: str  # the element's id, stable for tests and styles
    text: str
    url: str = ""  # where to act on it (optional)
    link_text: str = ""


Provider = Callable[[TenantContext], "Banner | None"]
_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> Provider:
    """Show ``provider(ctx)``'s banner on every console page of an organization."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def banners_for(ctx: TenantContext) -> list[Banner]:
    return [banner for provider in _PROVIDERS if (banner := provider(ctx)) is not None]

"""Enumerate every URL pattern of the REST API, so tests cover endpoints nobody listed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
MUTATING = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "api/v1/orgs/<slug:org>/teams/<int:team_id>/"
    name: str
    view_class: type

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.template)

    @property
    def methods(self) -> list[str]:
        return [m for m in HTTP_METHODS if hasattr(self.view_class, m)]

    def url(self, values: dict[str, object]) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.template)


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None) or getattr(
                pattern.callback, "cls", None
            )
            yield Route(prefix + str(pattern.pattern), pattern.name or "", view_class)


def api_routes() -> list[Route]:
    return [r for r in _walk(get_resolver().url_patterns) if r.template.startswith("api/")]

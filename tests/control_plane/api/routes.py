"""Enumerate every URL pattern of the REST API, so tests cover endpoints nobody listed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
MUTATING = ("post", "put", "patch", "delete")
# A value of the right shape for each path converter, for URLs whose objects do not matter.
PLACEHOLDERS = {"int": 1, "slug": "placeholder", "str": "placeholder", "path": "place/holder"}


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "api/v1/orgs/<slug:org>/teams/<int:team_id>/"
    name: str
    callback: object

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.template)

    @property
    def converters(self) -> dict[str, str]:
        return {
            name: converter or "str"
            for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", self.template)
        }

    @property
    def methods(self) -> list[str]:
        """The HTTP methods the view answers (a ViewSet's action map, a view class's
        handlers; a plain function view may answer any)."""
        actions = getattr(self.callback, "actions", None)
        if actions:
            return [m for m in HTTP_METHODS if m in actions]
        view_class = getattr(self.callback, "view_class", None) or getattr(
            self.callback, "cls", None
        )
        if view_class is None:
            return list(HTTP_METHODS)
        return [m for m in HTTP_METHODS if hasattr(view_class, m)]

    def url(self, values: dict[str, object]) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.template)

    def placeholder_url(self, values: dict[str, object]) -> str:
        """The URL with ``values`` where known and a placeholder of the right shape elsewhere."""
        filled = {name: PLACEHOLDERS.get(conv, "x") for name, conv in self.converters.items()}
        return self.url({**filled, **{k: v for k, v in values.items() if k in filled}})


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield Route(prefix + str(pattern.pattern), pattern.name or "", pattern.callback)


def api_routes() -> list[Route]:
    return [r for r in _walk(get_resolver().url_patterns) if r.template.startswith("api/")]

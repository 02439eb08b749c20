"""API requests without the trailing slash reach their endpoint.

Django's ``APPEND_SLASH`` answers ``POST /api/v1/.../runs`` with a redirect, and clients
follow a 301 with a body-less GET, so the request silently does something else. For
``/api/`` paths we resolve the slashed path in place instead; pages keep the redirect.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve


class ApiTrailingSlashMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            path.startswith("/api/")
            and not path.endswith("/")
            and not _resolves(path)
            and _resolves(path + "/")
        ):
            request.path_info = path + "/"
            request.path = request.path + "/"
        return self.get_response(request)


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True

"""API middleware: requests without the trailing slash reach their endpoint, and every
error under ``/api/`` is JSON.

Trailing slash:

Django's ``APPEND_SLASH`` answers ``POST /api/v1/.../runs`` with a redirect, and clients
follow a 301 with a body-less GET, so the request silently does something else. For
``/api/`` paths we resolve the slashed path in place instead; pages keep the redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
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


class ApiErrorMiddleware:
    """Every error under ``/api/`` is JSON in the API's one shape, ``{"detail": ...}``.

    DRF's exception handler shapes the errors of views; this covers what happens before or
    around them (no route, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, Django's own 400
    and 500 pages), so a client never has to parse HTML. Outermost, so it sees them all.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/"):
            return self.get_response(request)
        too_big = _body_over_limit(request)
        if too_big is not None:
            return too_big
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            return json_error(response.status_code)
        return response


def json_error(status: int, detail: str | None = None) -> JsonResponse:
    """The API's error body for a status no view shaped."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return JsonResponse({"detail": detail or f"{phrase}."}, status=status)


def _body_over_limit(request: HttpRequest) -> HttpResponse | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return json_error(400, "Invalid Content-Length header.")
    if limit is not None and length > limit:
        return json_error(413, f"The request body is over the limit of {limit} bytes.")
    return None


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")

"""Translate typed errors (``core.errors``) and DRF's own into JSON answers."""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from control_plane.core.errors import AssayError, InvalidInput


def exception_handler(exc, context):
    if isinstance(exc, InvalidInput):
        return Response(
            {"detail": exc.message, "errors": exc.fields}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, AssayError):
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(
            {"detail": "Invalid input.", "errors": errors}, status=status.HTTP_400_BAD_REQUEST
        )
    return drf_exception_handler(exc, context)

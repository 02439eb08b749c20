"""Turn the services' typed errors into a management command's one-line error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.management.base import CommandError

from control_plane.core.errors import AssayError


@contextlib.contextmanager
def command_errors() -> Iterator[None]:
    """Report an ``AssayError`` (with its field messages) as a ``CommandError``: the
    operator sees ``invalid input: slug: Use lower-case letters...`` rather than a traceback."""
    try:
        yield
    except AssayError as error:
        fields = getattr(error, "fields", {}) or {}
        details = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
        message = error.message.rstrip(".").lower() if fields else error.message
        raise CommandError(f"{message}: {details}" if details else message) from error

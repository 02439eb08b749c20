"""Pausing the cyclic garbage collector around allocation-heavy, cycle-free work.

A tick on a large graph allocates hundreds of thousands of short-lived subsets and
result nodes and creates no reference cycles. Left on, the collector rescans the
whole heap (the definitions included) many times over and more than doubles the
time of a large tick; the same holds for writing a large cursor.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

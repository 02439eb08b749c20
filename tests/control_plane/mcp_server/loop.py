"""Run a coroutine to completion from a synchronous test.

The browser tests hold a Playwright sync session for the whole run, and Playwright's
sync API keeps an event loop running on the main thread, so ``asyncio.run`` there
fails. A thread of its own has no loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()

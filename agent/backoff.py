"""How long to wait before reconnecting: exponential backoff with full jitter.

Full jitter (a uniform delay between 0 and an exponentially growing ceiling) spreads the
reconnects of many agents after a control-plane restart instead of synchronising them.

Why not `tenacity`/`backoff`: they retry a call until it succeeds. The agent's stream is
different: it "succeeds" for hours and then ends, and the delay must start over after a
healthy session rather than keep growing across a week of occasional drops. Expressing
that with a retry library takes more code than the two functions here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_BASE_SECONDS = 0.5
DEFAULT_CAP_SECONDS = 30.0


def full_jitter_delay(
    attempt: int,
    *,
    base: float = DEFAULT_BASE_SECONDS,
    cap: float = DEFAULT_CAP_SECONDS,
    uniform: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry `attempt` (1 = first): U(0, min(cap, base * 2^(attempt-1)))."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    ceiling = min(cap, base * 2 ** min(attempt - 1, 62))
    return ceiling * uniform()


@dataclass
class ReconnectBackoff:
    """Counts consecutive failed connections; a healthy session starts the count over."""

    base: float = DEFAULT_BASE_SECONDS
    cap: float = DEFAULT_CAP_SECONDS
    uniform: Callable[[], float] = field(default=random.random, repr=False)
    failures: int = 0

    def next_delay(self) -> float:
        """Record one more failed or dropped connection and return how long to wait."""
        self.failures += 1
        return full_jitter_delay(self.failures, base=self.base, cap=self.cap, uniform=self.uniform)

    def connected(self) -> None:
        """The control plane accepted us (welcome received): start backing off from scratch."""
        self.failures = 0

"""Reconnect delays: exponential ceilings with full jitter, capped, reset by a healthy session."""

from __future__ import annotations

import pytest

from agent.backoff import ReconnectBackoff, full_jitter_delay


def test_the_ceiling_doubles_per_attempt_up_to_the_cap() -> None:
    ceilings = [full_jitter_delay(n, base=0.5, cap=30.0, uniform=lambda: 1.0) for n in range(1, 10)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_the_delay_is_drawn_from_zero_to_the_ceiling() -> None:
    assert full_jitter_delay(3, base=0.5, cap=30.0, uniform=lambda: 0.0) == 0.0
    assert full_jitter_delay(3, base=0.5, cap=30.0, uniform=lambda: 0.5) == 1.0


def test_a_very_long_outage_stays_at_the_cap_without_overflowing() -> None:
    assert full_jitter_delay(10_000, base=0.5, cap=30.0, uniform=lambda: 1.0) == 30.0


def test_real_jitter_stays_within_bounds() -> None:
    for attempt in range(1, 50):
        assert 0.0 <= full_jitter_delay(attempt) <= 30.0


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        full_jitter_delay(0)


def test_a_healthy_connection_starts_the_backoff_over() -> None:
    backoff = ReconnectBackoff(uniform=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(4)] == [0.5, 1.0, 2.0, 4.0]
    backoff.connected()
    assert backoff.next_delay() == 0.5

"""Any change to any hashed field of an audit event changes its hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from control_plane.audit.models import AuditEvent
from control_plane.audit.services import compute_hash

TEXT_FIELDS = [
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "user_agent",
    "prev_hash",
]


def _event() -> AuditEvent:
    return AuditEvent(
        organization_id=7,
        seq=3,
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        actor_type="user",
        actor_id="12",
        actor_label="ops@acme.test",
        action="grant.update",
        target_type="grant",
        target_id="4",
        target_label="Editor",
        before={"role": "viewer"},
        after={"role": "editor"},
        ip="10.0.0.1",
        user_agent="curl/8",
        prev_hash="a" * 64,
    )


@given(field=st.sampled_from(TEXT_FIELDS), suffix=st.text(min_size=1, max_size=5))
def test_changing_any_text_field_changes_the_hash(field, suffix):
    event = _event()
    original = compute_hash(event)
    setattr(event, field, getattr(event, field) + suffix)
    assert compute_hash(event) != original


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=5,
    )
)
def test_changing_before_or_after_changes_the_hash(value):
    event = _event()
    original = compute_hash(event)
    event.after = {"role": "editor", "extra": value}
    assert compute_hash(event) != original


@given(delta=st.integers(min_value=1, max_value=10**9))
def test_changing_time_sequence_or_organization_changes_the_hash(delta):
    for change in ("occurred_at", "seq", "organization_id"):
        event = _event()
        original = compute_hash(event)
        if change == "occurred_at":
            event.occurred_at += timedelta(microseconds=delta)
        else:
            setattr(event, change, getattr(event, change) + delta)
        assert compute_hash(event) != original

"""Size cap on what one run event may carry across the network (64 KiB of JSON).

User code decides what goes into metadata; a log dump or a huge dict must not stall the
stream or bloat the event log. Oversized values are replaced by a marked preview
(`{"truncated": true, ...}`) so the control plane shows that something was cut and how
much, and the payload itself is marked with `"truncated": true`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_EVENT_PAYLOAD_BYTES = 64 * 1024
PREVIEW_CHARS = 1024
# What the control plane reads to know which partitions a step covers: cut last, and only
# when it alone does not fit (the control plane then ignores a subset marked truncated).
STRUCTURAL = ("partition_key_range", "partition_subset")


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON (how it travels)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def cap_event_dict(event: dict[str, Any], limit: int = MAX_EVENT_PAYLOAD_BYTES) -> dict[str, Any]:
    """`event` (an `Event.to_dict()`) unchanged when it fits in `limit`, else a capped copy.

    The largest metadata values go first; if the payload still does not fit, the largest
    other values of the payload (messages, stack traces) are cut to a preview too.
    """
    if json_size(event) <= limit:
        return event
    capped = dict(event)
    payload = dict(capped.get("payload") or {})
    capped["payload"] = payload
    payload["truncated"] = True
    metadata = payload.get("metadata")
    if isinstance(metadata, dict):
        metadata = dict(metadata)
        payload["metadata"] = metadata
        _shrink(capped, metadata, limit)
    if json_size(capped) > limit:
        _shrink(capped, payload, limit, keep=("truncated", "metadata", *STRUCTURAL))
    if json_size(capped) > limit:  # the partitions alone are too large: preview them too
        _shrink(capped, payload, limit, keep=("truncated", "metadata"))
    if json_size(capped) > limit and isinstance(metadata, dict):
        payload["metadata"] = {"truncated": True, "original_bytes": json_size(metadata)}
    return capped


def _shrink(
    event: dict[str, Any], values: dict[str, Any], limit: int, keep: tuple[str, ...] = ()
) -> None:
    """Replace the largest entries of `values` by previews until `event` fits."""
    by_size = sorted(
        (name for name in values if name not in keep),
        key=lambda name: json_size(values[name]),
        reverse=True,
    )
    for name in by_size:
        if json_size(event) <= limit:
            return
        values[name] = _preview(values[name])


def _preview(value: Any) -> dict[str, Any]:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return {
        "truncated": True,
        "original_bytes": json_size(value),
        "preview": text[:PREVIEW_CHARS],
    }

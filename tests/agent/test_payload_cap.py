"""The 64 KiB cap on what one event carries: big values become marked previews."""

from __future__ import annotations

from agent.payload_cap import MAX_EVENT_PAYLOAD_BYTES, cap_event_dict, json_size


def event(payload: dict) -> dict:
    return {
        "id": "e1",
        "type": "asset_materialization",
        "run_id": "r1",
        "timestamp": 1.0,
        "asset_key": "a",
        "step_key": "a",
        "partition": None,
        "payload": payload,
    }


def test_an_event_that_fits_is_returned_unchanged() -> None:
    original = event({"metadata": {"rows": 3}})
    assert cap_event_dict(original) is original


def test_the_largest_metadata_values_are_truncated_until_the_event_fits() -> None:
    capped = cap_event_dict(event({"metadata": {"a": "x" * 50_000, "b": "y" * 50_000, "rows": 3}}))
    assert json_size(capped) <= MAX_EVENT_PAYLOAD_BYTES
    metadata = capped["payload"]["metadata"]
    assert capped["payload"]["truncated"] is True
    assert [name for name, value in metadata.items() if isinstance(value, dict)] == ["a"]
    assert metadata["a"]["original_bytes"] == 50_002
    assert metadata["a"]["preview"].startswith("xxx")
    assert metadata["b"] == "y" * 50_000
    assert metadata["rows"] == 3


def test_huge_values_outside_metadata_are_cut_too() -> None:
    capped = cap_event_dict(event({"message": "boom", "error": {"stack": "z" * 300_000}}))
    assert json_size(capped) <= MAX_EVENT_PAYLOAD_BYTES
    assert capped["payload"]["error"]["truncated"] is True
    assert capped["payload"]["message"] == "boom"


def test_many_small_metadata_values_still_fit() -> None:
    capped = cap_event_dict(event({"metadata": {f"k{i}": "v" * 100 for i in range(2_000)}}))
    assert json_size(capped) <= MAX_EVENT_PAYLOAD_BYTES
    assert capped["payload"]["truncated"] is True


def test_the_partitions_a_step_covers_survive_when_other_values_are_cut() -> None:
    subset = {"type": "keys", "keys": [f"customer-{i}" for i in range(500)]}
    event = {
        "type": "step_failed",
        "payload": {
            "message": "boom",
            "error": "Traceback ...\n" * 20_000,
            "partition_key_range": ["customer-0", "customer-499"],
            "partition_subset": subset,
        },
    }
    capped = cap_event_dict(event)
    assert json_size(capped) <= MAX_EVENT_PAYLOAD_BYTES
    assert capped["payload"]["partition_subset"] == subset
    assert capped["payload"]["error"]["truncated"] is True


def test_a_subset_too_large_on_its_own_is_cut_and_marked() -> None:
    subset = {"type": "keys", "keys": [f"customer-{i:06d}" for i in range(20_000)]}
    event = {"type": "step_started", "payload": {"partition_subset": subset}}
    capped = cap_event_dict(event)
    assert json_size(capped) <= MAX_EVENT_PAYLOAD_BYTES
    assert capped["payload"]["partition_subset"]["truncated"] is True

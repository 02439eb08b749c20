"""Backfill policies: how partitions are grouped into runs."""

from __future__ import annotations

import pytest

from assay.partitions import BackfillPolicy, InvalidPartitionsDefinition

KEYS = [f"2024-01-{d:02d}" for d in range(1, 8)]


def test_single_run_puts_everything_in_one_run():
    policy = BackfillPolicy.single_run()
    assert policy.is_single_run
    assert policy.chunk(KEYS) == [KEYS]


def test_multi_run_caps_partitions_per_run():
    assert BackfillPolicy.multi_run(3).chunk(KEYS) == [KEYS[0:3], KEYS[3:6], KEYS[6:]]
    assert BackfillPolicy.multi_run().chunk(KEYS) == [[k] for k in KEYS]
    assert BackfillPolicy.multi_run(3).chunk([]) == []
    assert BackfillPolicy.multi_run(2) == BackfillPolicy.multi_run(2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_partitions_per_run_must_be_a_positive_int(bad):
    with pytest.raises(InvalidPartitionsDefinition, match="positive int"):
        BackfillPolicy.multi_run(bad)

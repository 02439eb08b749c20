"""The example project in examples/ works end to end in-process."""

from assay import materialize
from examples.analytics.definitions import defs


def test_example_materializes_and_its_check_passes():
    result = materialize(defs)
    assert result.success, result.failure_message
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "no_negative_conversions" and evaluation.passed
    metrics = result.output_for_node("daily_metrics")
    assert len(metrics) == 7
    assert all(row["conversions"] >= 0 for row in metrics)
    (model,) = result.asset_materializations_for_node("churn_model")
    assert 0 <= model.payload["metadata"]["churn_score"] <= 1

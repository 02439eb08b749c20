"""The code location Assay loads: `assay materialize -m examples.analytics.definitions`."""

from assay import Definitions, define_asset_job

from .assets import (
    EventSource,
    churn_model,
    daily_metrics,
    no_negative_conversions,
    user_events,
)

defs = Definitions(
    assets=[user_events, daily_metrics, churn_model],
    asset_checks=[no_negative_conversions],
    resources={"events": EventSource()},
    jobs=[define_asset_job("refresh_analytics", "group:analytics")],
)

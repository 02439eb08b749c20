"""The example code location: user_events -> daily_metrics -> churn_model."""

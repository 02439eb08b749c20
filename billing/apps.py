from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    label = "billing"
    verbose_name = "Billing: credits, plans and limits"

    def ready(self) -> None:
        from billing import (  # noqa: F401  (audit_actions declares the actions)
            audit_actions,
            budgets,
            estimates,
            limits,
            metering,
            rollup,
            stripe_sync,
            stripe_webhooks,
        )
        from control_plane.console import banners, nav
        from control_plane.core import hooks

        nav.register("Usage", "console:billing:usage", scope="organization", order=90)
        banners.register(stripe_webhooks.past_due_banner)
        hooks.on_events_stored(metering.meter_events)
        hooks.on_limit_check(limits.check_limit)
        hooks.on_launch_check(stripe_webhooks.check_launch)
        hooks.on_queue_hold(budgets.queue_hold)
        hooks.on_launch_estimate(estimates.describe_launch)
        hooks.add_daemon_loop("usage_rollup", rollup.ROLLUP_SECONDS, rollup.roll_up_usage)
        hooks.add_daemon_loop("billing", 3600.0, stripe_sync.report_finished_days)
        hooks.add_daemon_loop("budgets", budgets.BUDGET_CHECK_SECONDS, budgets.check_budgets)

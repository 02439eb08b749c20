from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    label = "billing"
    verbose_name = "Billing: credits, plans and limits"

    def ready(self) -> None:
        from billing import limits, metering
        from control_plane.core import hooks

        hooks.on_events_stored(metering.meter_events)
        hooks.on_limit_check(limits.check_limit)

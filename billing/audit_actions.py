"""Audit actions of the billing app (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

PLAN_CHANGE = declare("billing.plan_change", "the organization's plan was changed")
PAYMENT_STATUS = declare("billing.payment_status", "Stripe reported a change of payment status")
BUDGET_SET = declare("billing.budget_set", "the monthly credit budget was set or changed")
SUBSCRIPTION_START = declare(
    "billing.subscription_start", "a Stripe subscription was started for the organization"
)

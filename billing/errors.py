"""Typed errors of the billing app."""

from control_plane.core.errors import AssayError


class PlanLimitReached(AssayError):
    """Creating this would exceed the organization's plan (answered 402: upgrade to go on)."""

    status_code = 402


class PaymentPastDue(AssayError):
    """Launches are refused: payment is past due beyond the grace period."""

    status_code = 402


class StripeUnavailable(AssayError):
    """Stripe could not be reached or refused the request (answered 502)."""

    status_code = 502

"""The Stripe webhook view: thin over ``billing.stripe_webhooks``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import stripe_webhooks
from control_plane.core.errors import InvalidInput


@csrf_exempt  # Stripe authenticates with its signature, not a session
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event = stripe_webhooks.verify(request.body, request.headers.get("Stripe-Signature", ""))
    except InvalidInput as error:
        return JsonResponse({"detail": error.message}, status=400)
    handled = stripe_webhooks.handle(event)
    return JsonResponse({"received": True, "duplicate": not handled})

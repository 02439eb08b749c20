"""``/billing/``: the Stripe webhook endpoint (outside the API: Stripe signs, no token)."""

from django.urls import path

from billing import views

app_name = "billing_hooks"

urlpatterns = [path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook")]

"""Billing: credits ledger, plans, limits and Stripe (a Django app of the control plane)."""

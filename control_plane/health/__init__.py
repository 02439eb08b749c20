"""Liveness and readiness of the web process, for load balancers and orchestrators."""

"""The hosted control plane: a Django project with one app per domain concept."""

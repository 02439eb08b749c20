"""Python generated from `proto/assay/api/` (the agent <-> control plane protocol)."""

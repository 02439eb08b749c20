"""The hybrid agent: runs inside the customer's network and talks outbound to the control plane."""

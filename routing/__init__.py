"""Model catalogue, capability matching and the router's plan. Knows nothing of HTTP serving."""

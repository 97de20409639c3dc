"""Which provider gets a request: the model catalogue, capability matching, rules, the plan and its ranking, and what
may be sent now (headroom, circuit breakers, observed speed). Knows nothing of HTTP serving."""

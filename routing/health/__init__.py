"""Circuit breakers per provider: the breaker logic with its in-memory backend, and the Redis backend."""

"""The job store: one interface, a Redis implementation for production and an in-memory one for one process."""

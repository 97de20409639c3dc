"""Headroom per provider account: configured windows, concurrency slots and what providers said, shared by replicas."""

"""Faithful local emulators of the providers' HTTP APIs, for tests, benchmarks and `make run`."""

"""Prometheus metrics: one registry per app, bounded labels, and the provider-state gauges read at scrape time."""

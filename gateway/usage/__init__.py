"""Quotas, budgets (reserve, settle, release), the usage ledger and the finance reports."""

"""Reconciliation: the books proved, now (on request) and nightly (stored)."""

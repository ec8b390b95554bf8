"""Residents API."""

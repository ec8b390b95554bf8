"""Operators API."""

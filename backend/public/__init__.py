"""Public disclosure (no login, no personal data)."""

"""SHIM (registry branch only; the trust branch brings the real audit log)."""

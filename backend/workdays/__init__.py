"""SHIM (registry branch only; the workdays branch brings the real calendar)."""

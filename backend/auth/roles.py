"""SHIM (registry branch only; the trust branch brings the real module)."""

ADMIN, REVIEWER, EXPERT, FINANCE, AUDITOR = "admin", "reviewer", "expert", "finance", "auditor"

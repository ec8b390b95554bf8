"""Mall tables (filled in by the mall work)."""

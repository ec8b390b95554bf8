"""Points: converting a resident's reductions into points at the platform rate."""

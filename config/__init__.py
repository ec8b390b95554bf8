"""Settings profiles and the default catalogue."""

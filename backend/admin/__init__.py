"""Service-centre staff APIs."""

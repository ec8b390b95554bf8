"""Jobs of the mall: order expiry, settlement posting and sweep, nightly reconciliation."""

"""Identities and tokens: residents, staff, merchant users and operator machine clients."""

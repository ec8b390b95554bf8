"""SIP Carbon Points backend: app factory, auth, ledger, registry, resident and admin APIs."""

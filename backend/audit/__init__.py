"""The audit log: an append-only, hash-chained record of every state-changing act of
staff and organisations, written in the same transaction as the act.

    from backend.audit import log as audit
    audit.record("organization.create", "organization", org.id, after={...})

The actor, role and request id come from the actor context (`context.py`) that the
HTTP guard, the job runner and the CLI put on the session; rules never read request
state."""

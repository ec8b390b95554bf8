"""SHIM (registry branch only; the trust branch brings the real audit log)."""


def record(action, object_type, object_id, before=None, after=None):
    return None

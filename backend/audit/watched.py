"""Organisation acts recorded by watching the rows they insert (`watch.py`): an
operator's bind tokens, and its uploads (one record per batch, not per activity).
Imported once by the app factory."""

from __future__ import annotations

from backend.activity.models import BindToken, UploadBatch
from backend.audit.watch import watch

watch(BindToken, "bind_token.issue", "bind_token", ("scenario_id", "expires_at"))
watch(
    UploadBatch,
    "activity.upload",
    "upload_batch",
    ("scenario_id", "client_id", "status", "received"),
)

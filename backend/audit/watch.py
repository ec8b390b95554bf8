"""Acts recorded from the rows they insert: `watch(Model, action, object_type,
fields)` records one audit record for every new row of `Model` (its id as the object
id, the named columns as `after`), in the transaction that inserts it. For features
whose rules do not call `record()` themselves; `watched.py` lists them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from backend.audit.log import record_in


@dataclass(frozen=True)
class Watch:
    action: str
    object_type: str
    fields: tuple[str, ...]


_WATCHED: dict[type, Watch] = {}


def watch(model: type, action: str, object_type: str, fields: tuple[str, ...] = ()) -> None:
    _WATCHED[model] = Watch(action, object_type, tuple(fields))


@event.listens_for(Session, "after_flush")
def _record_inserts(session: Session, flush_context) -> None:
    if not _WATCHED:
        return
    for obj in list(session.new):
        spec = _WATCHED.get(type(obj))
        if spec is None:
            continue
        pk = inspect(type(obj)).primary_key[0].key
        object_id = getattr(obj, pk)
        after = {name: getattr(obj, name) for name in spec.fields}
        record_in(session, spec.action, spec.object_type, object_id, after=after)

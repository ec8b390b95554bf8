"""Assets and the promise against double claiming (Art. 15): a meter, a plate, a station,
a green-certificate (GEC) project code or a CCER project id belongs to at most one live
or pending scenario or project. Checked, not just signed: the database keeps one
unreleased claim per asset (a partial unique index), so two applications racing for one
asset can't both hold it."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from backend.db import db, utcnow
from backend.errors import Conflict, Invalid, text
from backend.registry.models import AssetClaim

KINDS = ("meter", "plate", "station", "gec_project", "ccer_project", "other")
_GEC = re.compile(r"^\d{17}$")
_SEPARATORS = re.compile(r"[\s\-_.·/]+")


class AssetAlreadyRegistered(Conflict):
    code, title = "asset_already_registered", "An asset is registered already"
    extras = {
        "asset": {
            "type": "object",
            "properties": {"kind": {"type": "string"}, "id": {"type": "string"}},
            "description": "The asset claimed twice, as sent.",
            "example": {"kind": "plate", "id": "苏E 12345"},
        },
        "held_by": text("The code of the scenario or project that holds it.", "SIP-S-METRO"),
    }


def normalise(kind: str, raw: str) -> str:
    """The form under which two spellings of one asset are the same: Unicode NFKC (full
    width to half width), upper case, no spaces, dashes, dots or slashes."""
    value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if kind == "gec_project" and not _GEC.match(value):
        raise Invalid(errors={"assets": [f"A GEC project code has 17 digits, not {raw!r}."]})
    if not value:
        raise Invalid(errors={"assets": ["An asset id may not be empty."]})
    return value


def claim(assets: list[dict], holder_type: str, holder_id: int, holder_code: str) -> None:
    """Claim every asset for the holder, or none: 409 `asset_already_registered` naming
    the other holder's public code when one is held already."""
    seen: set[tuple[str, str]] = set()
    rows = []
    for asset in assets:
        key = (asset["kind"], normalise(asset["kind"], asset["id"]))
        if key in seen:
            raise Invalid(errors={"assets": [f"{asset['kind']} {asset['id']} is listed twice."]})
        seen.add(key)
        rows.append((key, asset["id"]))
    for (kind, identifier), raw in rows:
        held = _holder_of(kind, identifier)
        if held is not None:
            raise AssetAlreadyRegistered(
                f"The {kind} {raw} is held by {held} already.",
                extra={"asset": {"kind": kind, "id": raw}, "held_by": held},
            )
    try:
        with db.session.begin_nested():
            for (kind, identifier), raw in rows:
                db.session.add(
                    AssetClaim(
                        kind=kind,
                        identifier=identifier,
                        raw_identifier=raw,
                        holder_type=holder_type,
                        holder_id=holder_id,
                        holder_code=holder_code,
                    )
                )
            db.session.flush()
    except IntegrityError as exc:  # a concurrent application claimed it first
        raise AssetAlreadyRegistered(
            "An asset was claimed by another application a moment ago.",
        ) from exc


def _holder_of(kind: str, identifier: str) -> str | None:
    return db.session.execute(
        select(AssetClaim.holder_code).where(
            AssetClaim.kind == kind,
            AssetClaim.identifier == identifier,
            AssetClaim.released_at.is_(None),
        )
    ).scalar_one_or_none()


def transfer(from_type: str, from_id: int, to_type: str, to_id: int, to_code: str) -> None:
    """The claims of an approved application become the registered object's."""
    db.session.execute(
        update(AssetClaim)
        .where(
            AssetClaim.holder_type == from_type,
            AssetClaim.holder_id == from_id,
            AssetClaim.released_at.is_(None),
        )
        .values(holder_type=to_type, holder_id=to_id, holder_code=to_code)
        .execution_options(synchronize_session=False)
    )


def release(holder_type: str, holder_id: int) -> int:
    """Release the holder's claims (a refusal, a withdrawal, a deregistration)."""
    return db.session.execute(
        update(AssetClaim)
        .where(
            AssetClaim.holder_type == holder_type,
            AssetClaim.holder_id == holder_id,
            AssetClaim.released_at.is_(None),
        )
        .values(released_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def of_holder(holder_type: str, holder_id: int) -> list[dict]:
    return [
        {"kind": c.kind, "id": c.raw_identifier}
        for c in db.session.execute(
            select(AssetClaim)
            .where(AssetClaim.holder_type == holder_type, AssetClaim.holder_id == holder_id)
            .order_by(AssetClaim.id)
        ).scalars()
    ]

"""Beneficiaries: uses are made "on behalf of" a name; staff normalise a name the first
time it is used (approving the first use with the spelling the registry will show), so
one beneficiary is not listed under five spellings."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select

from backend.db import db, insert_ignore
from backend.reductions.models import Beneficiary


def _clean(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split())


def get_or_create(name: str) -> Beneficiary:
    name = _clean(name)
    insert_ignore(Beneficiary, {"name": name}, ("name",))
    return db.session.execute(select(Beneficiary).where(Beneficiary.name == name)).scalar_one()


def confirm(beneficiary: Beneficiary, normalized: str | None, *, actor: str) -> None:
    """On a use's approval: the first approval fixes the public spelling (the one staff
    give, or the name as written); a later one may correct it."""
    if normalized is not None:
        beneficiary.normalized_name, beneficiary.normalized_by = _clean(normalized), actor
    elif beneficiary.normalized_name is None:
        beneficiary.normalized_name, beneficiary.normalized_by = beneficiary.name, actor


def public_name(beneficiary: Beneficiary) -> str:
    return beneficiary.normalized_name or beneficiary.name

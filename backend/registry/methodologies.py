"""Methodologies (方法学, Art. 5-10): published versions, immutable once published."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.registry.models import Methodology


def published() -> Select:
    return select(Methodology).where(Methodology.status == "published")

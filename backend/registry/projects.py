"""Projects (减排项目, Art. 11-14): registered reduction projects of organisations."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.registry.models import Project


def registered() -> Select:
    return select(Project).where(Project.status == "registered")

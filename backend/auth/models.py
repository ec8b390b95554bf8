from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import BigId, UTCDateTime, db, utcnow
from backend.registry.models import Organization


class User(db.Model):
    """A person who logs in: a resident (by phone), staff or a merchant user (by login).

    Residents' phone numbers are not stored: only a keyed hash to find the account at
    login and a masked form to show (data minimisation)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(12))  # resident | staff | merchant | org
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str | None] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(64))
    roles: Mapped[str] = mapped_column(String(200), default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    auto_convert: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Frozen (Art. 24, residents): no access, no outgoing moves; see backend/sanctions.
    frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Access tokens carry the generation they were issued in (`gen`); bumping it (sign
    # out everywhere, disabling) refuses every earlier token at once.
    token_gen: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # A resident who closed their account (PIPL Art. 47): phone hash, masked phone,
    # display name and password are erased; the row stays as the ledger's anonymous id.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization | None] = relationship(lazy="select")

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class RefreshToken(db.Model):
    """A refresh token, stored as its SHA-256. Each use spends it and issues the next in
    the same family; presenting a spent one revokes the whole family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OperatorClient(db.Model):
    """A scenario operator's machine client; the secret is shown once, kept as SHA-256."""

    __tablename__ = "operator_clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when the secret is rotated or the client disabled: earlier tokens die.
    token_gen: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

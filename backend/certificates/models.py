"""The published key ring and the certificate number counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class SigningKey(db.Model):
    """The public half of every key that ever signed a certificate: kept after the key is
    retired, so that old certificates stay verifiable. The private half never enters the
    database (it comes from the `CERT_SIGNING_KEY` setting)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("retired_at IS NULL OR retired_at >= created_at", name="retired_after"),
        # one current (unretired) key per algorithm; an SM2 key may stand beside later
        Index(
            "uq_signing_keys_current",
            "algorithm",
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
            sqlite_where=text("retired_at IS NULL"),
        ),
    )

    # RFC 7638 JWK thumbprint of the public key (SHA-256, base64url): 43 characters
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20))  # Ed25519
    public_key: Mapped[str] = mapped_column(String(200))  # raw public key, base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CertificateCounter(db.Model):
    """The last certificate number given out in a year (Asia/Shanghai): numbers run
    1, 2, 3... per year without gaps (a rolled-back transaction gives its number back)."""

    __tablename__ = "certificate_counters"
    __table_args__ = (CheckConstraint("last > 0", name="positive"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Certificate(db.Model):
    """An issued certificate: the signed document exactly as signed (anyone re-checks it
    with the published key), for an approved use or an issuance."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("subject_type IN ('use', 'issuance')", name="subject_type"),
        Index("ix_certificates_subject", "subject_type", "subject_id", unique=True),
    )

    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(12))
    subject_type: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(BigId)
    document: Mapped[dict] = mapped_column(JSON)
    key_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

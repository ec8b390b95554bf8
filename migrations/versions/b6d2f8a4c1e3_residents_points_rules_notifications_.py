"""residents: points validity rules, notifications, closed accounts

Revision ID: b6d2f8a4c1e3
Revises: f1a3c5e7b9d2
Create Date: 2026-12-10 09:00:00

"""

import sqlalchemy as sa
from alembic import op

import backend.db

revision = "b6d2f8a4c1e3"
down_revision = "f1a3c5e7b9d2"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "points_rules",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("effective_from", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("months >= 1 AND months <= 1200", name=op.f("ck_points_rules_months")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rules")),
        sa.UniqueConstraint("effective_from", name=op.f("uq_points_rules_effective_from")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text_zh", sa.String(length=300), nullable=False),
        sa.Column("text_en", sa.String(length=300), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index(
            "ix_notifications_unsent",
            ["id"],
            unique=False,
            postgresql_where=sa.text("sent_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL"),
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", backend.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_unsent")
        batch_op.drop_index("ix_notifications_user_id_id")
    op.drop_table("notifications")
    op.drop_table("points_rules")

"""trust: token generations, frozen subjects and accounts, the audit log, sanctions

Revision ID: c4a8e1f20b37
Revises: 2e7146f4096c
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import backend.db

revision = "c4a8e1f20b37"
down_revision = "2e7146f4096c"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SETTLEMENT_STATUSES_OLD = "status IN ('pending', 'approved', 'settled', 'failed')"
SETTLEMENT_STATUSES_NEW = "status IN ('pending', 'approved', 'settled', 'failed', 'cancelled')"

APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("token_gen", sa.Integer(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("operator_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_gen", sa.Integer(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=12), server_default="active", nullable=False))

    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_actor_id", ["actor", "id"], unique=False)
        batch_op.create_index("ix_audit_log_object", ["object_type", "object_id", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("settlement_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", backend.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_settlement_batches_status"), type_="check")
        batch_op.create_check_constraint("status", SETTLEMENT_STATUSES_NEW)
    op.create_table(
        "sanctions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("frozen_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("frozen_by", sa.String(length=80), nullable=False),
        sa.Column("lifted_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=80), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("subject_type IN ('organization', 'resident')", name=op.f("ck_sanctions_subject_type")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions")),
    )
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.create_index("ix_sanctions_subject_type_id", ["subject_type", "id"], unique=False)
        batch_op.create_index(
            "uq_sanctions_open_subject",
            ["subject_type", "subject_id"],
            unique=True,
            postgresql_where=sa.text("lifted_at IS NULL"),
            sqlite_where=sa.text("lifted_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.drop_index("uq_sanctions_open_subject")
        batch_op.drop_index("ix_sanctions_subject_type_id")
    op.drop_table("sanctions")
    op.execute("UPDATE orders SET settlement_id = NULL WHERE settlement_id IN "
               "(SELECT id FROM settlement_batches WHERE status = 'cancelled')")
    op.execute("DELETE FROM settlement_batches WHERE status = 'cancelled'")
    with op.batch_alter_table("settlement_batches", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_settlement_batches_status"), type_="check")
        batch_op.create_check_constraint("status", SETTLEMENT_STATUSES_OLD)
        batch_op.drop_column("cancelled_at")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("frozen")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_object")
        batch_op.drop_index("ix_audit_log_actor_id")
    op.drop_table("audit_log")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("status")
    with op.batch_alter_table("operator_clients", schema=None) as batch_op:
        batch_op.drop_column("token_gen")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_gen")
        batch_op.drop_column("frozen")

"""trust: token generations, frozen subjects and accounts, the audit log, sanctions

Revision ID: c4a8e1f20b37
Revises: 7b1e2c9d4f10
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import backend.db

revision = "c4a8e1f20b37"
down_revision = "7b1e2c9d4f10"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

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


def downgrade():
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

"""review fixes: idempotency claim token; non-negative balances checked by account kind

Revision ID: 7b1e2c9d4f10
Revises: ff923ea1f0e3
Create Date: 2026-11-24 09:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "7b1e2c9d4f10"
down_revision = "ff923ea1f0e3"
branch_labels = None
depends_on = None

BY_KIND = "balance >= 0 OR kind IN ('scenario_issuance', 'project_issuance', 'points_mint')"
BY_FLAG = "may_go_negative OR balance >= 0"


def upgrade():
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_nonnegative"), type_="check")
        batch_op.create_check_constraint("nonnegative", BY_KIND)


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_nonnegative"), type_="check")
        batch_op.create_check_constraint("nonnegative", BY_FLAG)
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("claim_token")

"""credited residents: every resident accrual has credited, for public stats

Accrual now posts the credit and the auto-conversion as two entries, so a resident's
credits show on their reductions account again; public stats count the residents taking
part from this table instead of reading postings. Backfilled from the activities
credited so far (earlier auto-converted credits left no posting on the reductions
account).

Revision ID: 2e7146f4096c
Revises: 8d6b227e7ed8
Create Date: 2026-12-01 12:32:32.952234

"""

import sqlalchemy as sa
from alembic import op

import backend.db

revision = "2e7146f4096c"
down_revision = "8d6b227e7ed8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "credited_residents",
        sa.Column(
            "user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("first_credited_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credited_residents_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credited_residents")),
    )
    op.execute(
        "INSERT INTO credited_residents (user_id, first_credited_at) "
        "SELECT a.user_id, MIN(j.created_at) FROM activities a "
        "JOIN journal_entries j ON j.id = a.accrual_entry_id "
        "WHERE a.credited_g > 0 GROUP BY a.user_id"
    )


def downgrade():
    op.drop_table("credited_residents")

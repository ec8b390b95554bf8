"""activity details in their own table, partitioned by month on PostgreSQL

The raw, erasable details of an activity (started_at, ended_at, measures, erased_at)
move from `activities` to `activity_details` (activity_id, day, user_id, ...). On
PostgreSQL the table is `PARTITION BY RANGE (day)`, one partition a month
(`activity_details_pYYYYMM`), so retention drops whole months instead of updating rows;
the primary key (activity_id, day) holds the partition key, as PostgreSQL requires.
This migration makes the months of the rows it moves and the next three; the job
`partitions.make_activity_partitions` (and every writer, on demand) makes the others.
On SQLite the same table, unpartitioned.

An activity whose raw details were erased entirely (times and measures) gets no row.
History pages read activities by (user_id, created_at, id), and an accrual line's trips
by `accrual_entry_id`: an index for each (the latter was a sequential scan of every
activity on each history page).

Revision ID: 9a4d2f6c8e15
Revises: 6eb0dc7b1607
Create Date: 2026-12-01 16:00:00.000000

"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

import backend.db

# revision identifiers, used by Alembic.
revision = "9a4d2f6c8e15"
down_revision = "6eb0dc7b1607"
branch_labels = None
depends_on = None

AHEAD_MONTHS = 3


def _next_month(m: date) -> date:
    return (m.replace(day=28) + timedelta(days=4)).replace(day=1)


def _make_partitions(conn) -> None:
    first, last = conn.execute(sa.text("SELECT MIN(day), MAX(day) FROM activities")).one()
    today = date.today()
    first = min(first or today, today).replace(day=1)
    last = max(last or today, today)
    for _ in range(AHEAD_MONTHS):
        last = _next_month(last.replace(day=1))
    m = first
    while m <= last:
        name = f"activity_details_p{m.year:04d}{m.month:02d}"
        op.execute(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF activity_details '
            f"FOR VALUES FROM ('{m.isoformat()}') TO ('{_next_month(m).isoformat()}')"
        )
        m = _next_month(m)


def upgrade():
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    op.create_table(
        "activity_details",
        sa.Column(
            "activity_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("measures", sa.JSON(), nullable=True),
        sa.Column("erased_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_details_activity_id_activities"),
        ),
        sa.PrimaryKeyConstraint("activity_id", "day", name=op.f("pk_activity_details")),
        postgresql_partition_by="RANGE (day)",
    )
    with op.batch_alter_table("activity_details", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_details_user_started", ["user_id", "started_at"], unique=False
        )
    if pg:
        _make_partitions(conn)
    op.execute(
        "INSERT INTO activity_details "
        "(activity_id, day, user_id, started_at, ended_at, measures, erased_at) "
        "SELECT id, day, user_id, started_at, ended_at, measures, erased_at FROM activities "
        "WHERE started_at IS NOT NULL OR measures IS NOT NULL"
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_user_started")
        batch_op.create_index(
            "ix_activities_user_created", ["user_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_activities_accrual_entry",
            ["accrual_entry_id"],
            unique=False,
            postgresql_where=sa.text("accrual_entry_id IS NOT NULL"),
            sqlite_where=sa.text("accrual_entry_id IS NOT NULL"),
        )
        batch_op.drop_column("started_at")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("measures")
        batch_op.drop_column("erased_at")


def downgrade():
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("started_at", backend.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ended_at", backend.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("measures", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("erased_at", backend.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index("ix_activities_user_created")
        batch_op.drop_index("ix_activities_accrual_entry")
        batch_op.create_index(
            "ix_activities_user_started", ["user_id", "started_at"], unique=False
        )
    # details back; an activity without a row had everything erased (when is not known:
    # its creation stands for it)
    for col in ("started_at", "ended_at", "measures", "erased_at"):
        op.execute(
            f"UPDATE activities SET {col} = (SELECT d.{col} FROM activity_details d "
            "WHERE d.activity_id = activities.id)"
        )
    op.execute(
        "UPDATE activities SET erased_at = created_at WHERE NOT EXISTS "
        "(SELECT 1 FROM activity_details d WHERE d.activity_id = activities.id)"
    )
    with op.batch_alter_table("activity_details", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_details_user_started")
    op.drop_table("activity_details")  # on PostgreSQL its partitions go with it

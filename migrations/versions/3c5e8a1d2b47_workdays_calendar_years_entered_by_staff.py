"""workdays: calendar years entered by staff from the State Council's holiday notices

Revision ID: 3c5e8a1d2b47
Revises: 7b1e2c9d4f10
Create Date: 2026-12-01 12:30:48.707769

"""
from alembic import op
import sqlalchemy as sa

import backend.db


# revision identifiers, used by Alembic.
revision = '3c5e8a1d2b47'
down_revision = '7b1e2c9d4f10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_years',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('makeup_workdays', sa.JSON(), nullable=False),
    sa.Column('notice_title', sa.String(length=200), nullable=False),
    sa.Column('entered_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entered_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], name=op.f('fk_calendar_years_entered_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_years')),
    sa.UniqueConstraint('year', name=op.f('uq_calendar_years_year'))
    )


def downgrade():
    op.drop_table('calendar_years')

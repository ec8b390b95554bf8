"""certificates: signing keys (the published key ring), certificate number counters

signing_keys holds the public half of every key that ever signed a certificate, at most
one current (unretired) key per algorithm; certificate_counters the last number given
out per year.

Revision ID: 8d6b227e7ed8
Revises: 3c5e8a1d2b47
Create Date: 2026-12-01 12:32:45.486987

"""
from alembic import op
import sqlalchemy as sa

import backend.db


# revision identifiers, used by Alembic.
revision = '8d6b227e7ed8'
down_revision = "3c5e8a1d2b47"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificate_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.CheckConstraint('last > 0', name=op.f('ck_certificate_counters_positive')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_certificate_counters'))
    )
    op.create_table('signing_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=20), nullable=False),
    sa.Column('public_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('retired_at IS NULL OR retired_at >= created_at', name=op.f('ck_signing_keys_retired_after')),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_signing_keys'))
    )
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index('uq_signing_keys_current', ['algorithm'], unique=True, postgresql_where=sa.text('retired_at IS NULL'), sqlite_where=sa.text('retired_at IS NULL'))



def downgrade():
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index('uq_signing_keys_current', postgresql_where=sa.text('retired_at IS NULL'), sqlite_where=sa.text('retired_at IS NULL'))

    op.drop_table('signing_keys')
    op.drop_table('certificate_counters')

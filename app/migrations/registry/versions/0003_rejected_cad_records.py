"""rejected cad records: CAD records quarantined with the reason, never dropped silently

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rejected_cad_records',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('raw_text', sa.Text(), nullable=False),
    sa.Column('raw_size', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('seen_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'fingerprint')
    )


def downgrade() -> None:
    op.drop_table('rejected_cad_records')

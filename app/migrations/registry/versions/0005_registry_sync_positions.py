"""registry sync positions: the last registry change applied from each sync server

Revision ID: 0005
Revises: 0004

One row per sync server (its URL): the server's version of the last registry change this
workstation applied, written in the same transaction as the change, so a restart pulls on from
there and never applies a change twice or skips one.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registry_sync_positions',
    sa.Column('server_url', sa.String(length=1000), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('applied_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('server_url')
    )


def downgrade() -> None:
    op.drop_table('registry_sync_positions')

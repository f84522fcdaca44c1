"""wall views: each user's named views of the walls

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wall_views',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner', 'name')
    )
    with op.batch_alter_table('wall_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wall_views_owner'), ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wall_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wall_views_owner'))

    op.drop_table('wall_views')

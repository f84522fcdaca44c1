"""initial audit schema

Revision ID: a001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = 'a001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('record', sa.LargeBinary(), nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.Column('event_type', sa.String(), sa.Computed("json_extract(CAST(record AS TEXT), '$.event_type')", persisted=False), nullable=False),
    sa.Column('time', sa.String(), sa.Computed("json_extract(CAST(record AS TEXT), '$.time')", persisted=False), nullable=False),
    sa.Column('actor', sa.String(), sa.Computed("json_extract(CAST(record AS TEXT), '$.actor')", persisted=False), nullable=False),
    sa.Column('workstation', sa.String(), sa.Computed("json_extract(CAST(record AS TEXT), '$.workstation')", persisted=False), nullable=False),
    sa.Column('camera_id', sa.String(), sa.Computed("json_extract(CAST(record AS TEXT), '$.camera_id')", persisted=False), nullable=True),
    sa.Column('outcome', sa.String(), sa.Computed("json_extract(CAST(record AS TEXT), '$.outcome')", persisted=False), nullable=False),
    sa.Column('policy_version', sa.Integer(), sa.Computed("json_extract(CAST(record AS TEXT), '$.policy_version')", persisted=False), nullable=True),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_event_type'), ['event_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_time'), ['time'], unique=False)

    # The log is append-only: SQLite itself refuses to change or remove an event.
    op.execute(
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit log is append-only: events cannot be changed'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit log is append-only: events cannot be removed'); END"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_no_delete")
    op.execute("DROP TRIGGER audit_events_no_update")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_time'))
        batch_op.drop_index(batch_op.f('ix_audit_events_event_type'))
        batch_op.drop_index(batch_op.f('ix_audit_events_camera_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_actor'))

    op.drop_table('audit_events')

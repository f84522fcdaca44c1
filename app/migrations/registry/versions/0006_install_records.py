"""install records: a field technician's saved install check, with its masked snapshots

Revision ID: 0006
Revises: 0005

- install_records: one saved install check of a camera (its UUID, technician, workstation,
  time, verdict, the check report and placement as JSON, notes) and its sync state toward the
  sync server (queued or sent, sent_at, the last error).
- install_snapshots: the record's masked pictures as JPEG, in the order shown.

A record is never changed after it is saved: triggers refuse any UPDATE of a record's content
(only sync_state, sent_at and last_error may change) and any UPDATE or DELETE of a record or
its snapshots, so nothing saved on site can be altered or lost before the server has it.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CONTENT = "id, camera_id, technician, workstation, created_at, verdict, check_report, placement, notes"


def upgrade() -> None:
    op.create_table('install_records',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('technician', sa.String(length=64), nullable=False),
    sa.Column('workstation', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('verdict', sa.Enum('PASS', 'WARN', 'FAIL', name='installverdict', native_enum=False, length=16), nullable=False),
    sa.Column('check_report', sa.JSON(), nullable=False),
    sa.Column('placement', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('sync_state', sa.Enum('QUEUED', 'SENT', name='installrecordsyncstate', native_enum=False, length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('install_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_install_records_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_install_records_sync_state'), ['sync_state'], unique=False)

    op.create_table('install_snapshots',
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('jpeg', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['install_records.id'], ),
    sa.PrimaryKeyConstraint('record_id', 'position')
    )
    op.execute(
        f"CREATE TRIGGER install_records_no_update BEFORE UPDATE OF {CONTENT} ON install_records "
        "BEGIN SELECT RAISE(ABORT, 'an install record is never changed after it is saved; "
        "make a new one'); END"
    )
    op.execute(
        "CREATE TRIGGER install_records_no_delete BEFORE DELETE ON install_records "
        "BEGIN SELECT RAISE(ABORT, 'an install record is never removed'); END"
    )
    op.execute(
        "CREATE TRIGGER install_snapshots_no_update BEFORE UPDATE ON install_snapshots "
        "BEGIN SELECT RAISE(ABORT, 'an install record is never changed after it is saved; "
        "make a new one'); END"
    )
    op.execute(
        "CREATE TRIGGER install_snapshots_no_delete BEFORE DELETE ON install_snapshots "
        "BEGIN SELECT RAISE(ABORT, 'an install record is never removed'); END"
    )


def downgrade() -> None:
    for trigger in ('install_snapshots_no_delete', 'install_snapshots_no_update',
                    'install_records_no_delete', 'install_records_no_update'):
        op.execute(f"DROP TRIGGER {trigger}")
    op.drop_table('install_snapshots')
    with op.batch_alter_table('install_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_install_records_sync_state'))
        batch_op.drop_index(batch_op.f('ix_install_records_camera_id'))
    op.drop_table('install_records')

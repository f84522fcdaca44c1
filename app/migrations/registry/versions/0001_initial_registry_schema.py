"""initial registry schema

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('cad_number', sa.String(length=64), nullable=False),
    sa.Column('incident_type', sa.String(length=100), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.Enum('PENDING', 'DISPATCHED', 'ON_SCENE', 'CLOSED', name='incidentstatus', native_enum=False, length=16), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cad_number')
    )
    op.create_table('owners',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('RESIDENT', 'BUSINESS', 'AGENCY', name='ownerkind', native_enum=False, length=16), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('units',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('heading_deg', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('OPERATOR', 'SUPERVISOR', 'FIELD_TECH', 'ADMIN', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('cameras',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tier', sa.Enum('REGISTERED', 'INTEGRATED', name='cameratier', native_enum=False, length=16), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('heading_deg', sa.Float(), nullable=False),
    sa.Column('fov_deg', sa.Float(), nullable=False),
    sa.Column('range_m', sa.Float(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('main_stream_url', sa.String(length=1000), nullable=True),
    sa.Column('sub_stream_url', sa.String(length=1000), nullable=True),
    sa.Column('privacy_masks', sa.JSON(), nullable=False),
    sa.Column('install_state', sa.Enum('UNVERIFIED', 'VERIFIED', 'FAILED', name='installstate', native_enum=False, length=16), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['owners.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cameras_owner_id'), ['owner_id'], unique=False)

    op.create_table('footage_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('window_end', sa.DateTime(), nullable=False),
    sa.Column('status', sa.Enum('DRAFTED', 'SENT', 'FULFILLED', 'DECLINED', 'EXPIRED', name='footagerequeststatus', native_enum=False, length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_footage_requests_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_footage_requests_incident_id'), ['incident_id'], unique=False)

    op.create_table('sharing_policies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Enum('CONTINUOUS', 'EMERGENCY_ONLY', 'SCHEDULED', 'REVOKED', name='policymode', native_enum=False, length=16), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('windows', sa.JSON(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('camera_id', 'version')
    )
    with op.batch_alter_table('sharing_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sharing_policies_camera_id'), ['camera_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sharing_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sharing_policies_camera_id'))

    op.drop_table('sharing_policies')
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_footage_requests_incident_id'))
        batch_op.drop_index(batch_op.f('ix_footage_requests_camera_id'))

    op.drop_table('footage_requests')
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cameras_owner_id'))

    op.drop_table('cameras')
    op.drop_table('users')
    op.drop_table('units')
    op.drop_table('owners')
    op.drop_table('incidents')

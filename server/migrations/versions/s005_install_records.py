"""install records: field technicians' install checks sent by workstations, with their snapshots

Revision ID: s005
Revises: s004
"""

import sqlalchemy as sa
from alembic import op

revision = "s005"
down_revision = "s004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "install_records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "workstation_id", sa.String(64), sa.ForeignKey("workstations.id"), nullable=False
        ),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("technician", sa.String(64), nullable=False),
        sa.Column("workstation", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("check_report", sa.Text(), nullable=False),
        sa.Column("placement", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_install_records_camera_id", "install_records", ["camera_id"])
    op.create_table(
        "install_snapshots",
        sa.Column(
            "record_id", sa.String(36), sa.ForeignKey("install_records.id"), primary_key=True
        ),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("install_snapshots")
    op.drop_index("ix_install_records_camera_id", "install_records")
    op.drop_table("install_records")

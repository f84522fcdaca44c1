"""the camera registry (owners, cameras, policy versions) with its change log; owner tokens

Revision ID: s002
Revises: s001
"""

import sqlalchemy as sa
from alembic import op

revision = "s002"
down_revision = "s001"
branch_labels = None
depends_on = None


def _choice(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "registry_owners",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", _choice("ownerkind", "resident", "business", "agency"), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
    )
    op.create_table(
        "registry_cameras",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), sa.ForeignKey("registry_owners.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", _choice("cameratier", "registered", "integrated"), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=False),
        sa.Column("fov_deg", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("main_stream_url", sa.String(1000)),
        sa.Column("sub_stream_url", sa.String(1000)),
        sa.Column("privacy_masks", sa.JSON(), nullable=False),
        sa.Column(
            "install_state",
            _choice("installstate", "unverified", "verified", "failed"),
            nullable=False,
        ),
        sa.Column("verified_at", sa.DateTime()),
    )
    op.create_index("ix_registry_cameras_owner_id", "registry_cameras", ["owner_id"])
    op.create_table(
        "registry_policies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("camera_id", sa.String(64), sa.ForeignKey("registry_cameras.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "mode",
            _choice("policymode", "continuous", "emergency_only", "scheduled", "revoked"),
            nullable=False,
        ),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("camera_id", "version", name="uq_registry_policies_camera_version"),
    )
    op.create_table(
        "registry_changes",
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('owner', 'camera', 'policy')", name="ck_registry_changes_kind"
        ),
    )
    op.create_index("ix_registry_changes_kind_owner", "registry_changes", ["kind", "owner_id"])
    op.create_index("ix_registry_changes_kind_record", "registry_changes", ["kind", "record_id"])
    head = op.create_table(
        "registry_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("latest_version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_registry_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "latest_version": 0}])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(64)))
        batch.create_foreign_key("fk_api_tokens_owner_id", "registry_owners", ["owner_id"], ["id"])
        batch.create_index("ix_api_tokens_owner_id", ["owner_id"])
        batch.create_check_constraint(
            "ck_api_tokens_owner_role", "(role = 'owner') = (owner_id IS NOT NULL)"
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("ck_api_tokens_owner_role", type_="check")
        batch.drop_index("ix_api_tokens_owner_id")
        batch.drop_constraint("fk_api_tokens_owner_id", type_="foreignkey")
        batch.drop_column("owner_id")
    op.drop_table("registry_head")
    op.drop_table("registry_changes")
    op.drop_table("registry_policies")
    op.drop_table("registry_cameras")
    op.drop_table("registry_owners")

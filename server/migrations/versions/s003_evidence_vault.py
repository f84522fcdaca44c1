"""the evidence vault: footage requests, upload tokens, uploads in progress, evidence files and
their append-only custody log

Revision ID: s003
Revises: s002
"""

import sqlalchemy as sa
from alembic import op

revision = "s003"
down_revision = "s002"
branch_labels = None
depends_on = None

# The custody log is append-only: the database itself refuses to change or remove a row.
_SQLITE_GUARDS = [
    f"CREATE TRIGGER evidence_custody_no_{verb} BEFORE {verb.upper()} ON evidence_custody "
    "BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END"
    for verb in ("update", "delete")
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION evidence_custody_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the custody log is append-only'; END $$",
    "CREATE TRIGGER evidence_custody_append_only BEFORE UPDATE OR DELETE ON evidence_custody "
    "FOR EACH ROW EXECUTE FUNCTION evidence_custody_append_only()",
]


def _choice(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "evidence_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workstation_id", sa.String(64), sa.ForeignKey("workstations.id"), nullable=False
        ),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("cad_number", sa.String(64), nullable=False),
        sa.Column("incident_type", sa.String(100), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("camera_name", sa.String(200), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column(
            "status",
            _choice("evidencerequeststatus", "open", "fulfilled", "declined", "expired"),
            nullable=False,
        ),
        sa.Column("decline_reason", sa.String(2000)),
        sa.Column("receipt_number", sa.String(32)),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime()),
        sa.UniqueConstraint(
            "workstation_id", "reference", name="uq_evidence_requests_workstation_reference"
        ),
        sa.UniqueConstraint("receipt_number", name="uq_evidence_requests_receipt_number"),
    )
    op.create_index("ix_evidence_requests_cad_number", "evidence_requests", ["cad_number"])
    op.create_table(
        "evidence_upload_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id", sa.Integer(), sa.ForeignKey("evidence_requests.id"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime()),
        sa.UniqueConstraint("token_hash", name="uq_evidence_upload_tokens_token_hash"),
    )
    op.create_index(
        "ix_evidence_upload_tokens_request_id", "evidence_upload_tokens", ["request_id"]
    )
    op.create_table(
        "evidence_uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "request_id", sa.Integer(), sa.ForeignKey("evidence_requests.id"), nullable=False
        ),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(40), nullable=False),
        sa.Column("nonce_prefix", sa.LargeBinary(8), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_evidence_uploads_request_id", "evidence_uploads", ["request_id"])
    op.create_table(
        "evidence_files",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "request_id", sa.Integer(), sa.ForeignKey("evidence_requests.id"), nullable=False
        ),
        sa.Column("cad_number", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("camera_name", sa.String(200), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("container", sa.String(100), nullable=False),
        sa.Column("codec", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float()),
        sa.Column("wrapped_key", sa.LargeBinary(40), nullable=False),
        sa.Column("nonce_prefix", sa.LargeBinary(8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime()),
    )
    op.create_index("ix_evidence_files_request_id", "evidence_files", ["request_id"])
    op.create_index("ix_evidence_files_cad_number", "evidence_files", ["cad_number"])
    op.create_table(
        "evidence_custody",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("evidence_id", sa.String(32), sa.ForeignKey("evidence_files.id"), nullable=False),
        sa.Column(
            "action",
            _choice("custodyaction", "received", "viewed", "exported", "deleted"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_evidence_custody_evidence_id", "evidence_custody", ["evidence_id"])
    guards = _POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else _SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER evidence_custody_append_only ON evidence_custody")
        op.execute("DROP FUNCTION evidence_custody_append_only()")
    op.drop_table("evidence_custody")
    op.drop_table("evidence_files")
    op.drop_table("evidence_uploads")
    op.drop_table("evidence_upload_tokens")
    op.drop_table("evidence_requests")

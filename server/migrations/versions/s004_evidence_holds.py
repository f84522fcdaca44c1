"""legal holds on incidents: an append-only log of administrators setting and clearing them

Revision ID: s004
Revises: s003
"""

import sqlalchemy as sa
from alembic import op

revision = "s004"
down_revision = "s003"
branch_labels = None
depends_on = None

# The hold log is append-only, as the custody log: the database itself refuses to change or
# remove a row, so a hold cannot be made to look as if it was never set.
_SQLITE_GUARDS = [
    f"CREATE TRIGGER evidence_holds_no_{verb} BEFORE {verb.upper()} ON evidence_holds "
    "BEGIN SELECT RAISE(ABORT, 'the legal hold log is append-only'); END"
    for verb in ("update", "delete")
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION evidence_holds_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the legal hold log is append-only'; END $$",
    "CREATE TRIGGER evidence_holds_append_only BEFORE UPDATE OR DELETE ON evidence_holds "
    "FOR EACH ROW EXECUTE FUNCTION evidence_holds_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "evidence_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cad_number", sa.String(64), nullable=False),
        sa.Column(
            "action",
            sa.Enum("set", "cleared", name="holdaction", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_evidence_holds_cad_number", "evidence_holds", ["cad_number"])
    guards = _POSTGRES_GUARDS if op.get_bind().dialect.name == "postgresql" else _SQLITE_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER evidence_holds_append_only ON evidence_holds")
        op.execute("DROP FUNCTION evidence_holds_append_only()")
    op.drop_table("evidence_holds")

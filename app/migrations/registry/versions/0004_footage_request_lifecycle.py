"""footage request lifecycle: what a request needs once it is drafted

Revision ID: 0004
Revises: 0003

0001 made footage_requests with enough for a draft. Sending, waiting and answering need:

- message_id: the Message-ID of the e-mail that carried the request. One e-mail goes to each
  owner and may list several cameras, so requests sent together share it; it is what ties an
  owner's reply (In-Reply-To) and the mail server's logs back to the requests.
- expires_at: when waiting for an answer stops, fixed when the request is sent (sent_at plus
  [footage] expire_after_days), so a later change of the setting does not move the deadline the
  owner was effectively given.
- answered_at and answer_note: when the owner's answer was recorded and what the operator noted
  of it (where the footage was handed over, why it was declined).
- last_attempt_at and last_error: a send that failed leaves the request drafted; these say when
  the last try was and why it failed, for the operator, without losing the request. They are
  cleared by a send that succeeds. The text never holds the owner's address.

answer_note is NOT NULL with a server default of '' so that requests made before this revision
get an empty note; the others are NULL until they apply.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('answer_note', sa.String(length=2000), server_default='', nullable=False))
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('footage_requests', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('answer_note')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('message_id')

"""E-mail alerts (issue #13 item 3): what became of each alert's mail.

``mail_state`` is NULL while the alert waits to be mailed, then ``sent`` (in a mail),
``duplicate`` (the same alert was mailed within the dedupe window: not mailed again) or
``nobody`` (no recipient is configured for its kind). ``mail_attempts``, ``mail_after`` and
``mail_error`` carry the SMTP retries: an alert is never dropped, it waits and is tried again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("mail_state", sa.String(16)))
        batch.add_column(sa.Column("mailed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("mail_attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("mail_after", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("mail_error", sa.Text))
    op.create_index("ix_alerts_mail", "alerts", ["mail_state", "kind"])


def downgrade() -> None:
    op.drop_index("ix_alerts_mail", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        for column in ("mail_error", "mail_after", "mail_attempts", "mailed_at", "mail_state"):
            batch.drop_column(column)

"""Reports and retention: what the print house charged per letter, split as the receipt splits
it (production cost, postage, sheets), so costs can be posted per cost code; when a document's
bytes were purged by ``[retention]`` (its row, the letter's history and costs stay). Reports
read letters by when they came in: the console's migration (0006) made that index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("production_cost_ore", sa.Integer))
        batch.add_column(sa.Column("postage_ore", sa.Integer))
        batch.add_column(sa.Column("sheets", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("sheets")
        batch.drop_column("postage_ore")
        batch.drop_column("production_cost_ore")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("purged_at")

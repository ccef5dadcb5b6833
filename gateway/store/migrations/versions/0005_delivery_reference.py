"""Deliveries found by the channel's own reference: a status feed (Digital Post's receipts,
Beskedfordeler's events) names letters by it, not by shipment.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_reference", "deliveries", ["channel", "reference"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_reference", table_name="deliveries")

"""Dispatch: jobs (outbox), deliveries, recipient registry, channel health, alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UtcDateTime = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("shipment_id", sa.String(36), sa.ForeignKey("shipments.id", ondelete="CASCADE")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("run_after", UtcDateTime, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_expires", UtcDateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "run_after"])
    op.create_index("ix_jobs_shipment", "jobs", ["shipment_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("shipment_id", sa.String(36), sa.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=False),
        sa.Column("read_deadline", UtcDateTime),
        sa.Column("cost_estimate_ore", sa.Integer),
        sa.Column("cost_ore", sa.Integer),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("receipt", sa.JSON, nullable=False),
    )
    op.create_index("ix_deliveries_shipment", "deliveries", ["shipment_id"])
    op.create_index("ix_deliveries_open", "deliveries", ["channel", "open"])
    op.create_table(
        "registry",
        sa.Column("identifier", sa.String(20), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "channel_health",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("failing_since", UtcDateTime),
        sa.Column("open_until", UtcDateTime),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("shipment_id", sa.String(36)),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_at", "alerts", ["at"])


def downgrade() -> None:
    for table in ("alerts", "channel_health", "registry", "deliveries", "jobs"):
        op.drop_table(table)

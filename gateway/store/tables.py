"""SQLAlchemy Core tables. Alembic migrations under ``migrations/`` create and evolve them;
this module is what the code queries against and must match the newest migration
(a test compares the two).

The account that submitted a shipment is its ``sender`` in the code; its columns are still
named ``tenant`` (the name of the first schema), so those columns have the key ``sender``:
statements and result rows use the key, the SQL the name."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


metadata = sa.MetaData()

UtcDateTime = sa.DateTime(timezone=True)

shipments = sa.Table(
    "shipments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False, key="sender"),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("external_ref", sa.String(500)),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status_changed_at", UtcDateTime, nullable=False),
    # What the console searches by, copied from ``data`` on insert (migration 0006):
    # the Noark case number (year/sequence) and document number (the journal entry's number
    # in the case), the recipient, and lower-case keys for prefix search on name and title.
    sa.Column("case_year", sa.Integer),
    sa.Column("case_sequence_number", sa.Integer),
    sa.Column("document_number", sa.Integer),
    sa.Column("recipient_identifier", sa.String(64)),
    sa.Column("recipient_name_key", sa.String(200)),
    sa.Column("title_key", sa.String(200)),
    sa.Index("ix_shipments_tenant_external_ref", "sender", "external_ref"),
    sa.Index("ix_shipments_status", "status"),
    sa.Index("ix_shipments_external_ref", "external_ref"),
    sa.Index("ix_shipments_created", "created_at", "id"),  # the console and the reports read by time
    sa.Index("ix_shipments_case", "case_year", "case_sequence_number", "document_number"),
    sa.Index("ix_shipments_recipient", "recipient_identifier"),
    sa.Index("ix_shipments_recipient_name", "recipient_name_key", postgresql_ops={"recipient_name_key": "text_pattern_ops"}),
    sa.Index("ix_shipments_title_key", "title_key", postgresql_ops={"title_key": "text_pattern_ops"}),
)

#: Documents kept in the database (gateway/store/document_rows.py), content-addressed like
#: the blob files and inserted in the transaction of the shipment that first brings them
#: (migration 0003): the whole document when it fits one chunk, else its first chunk, with
#: ``size`` the whole document's.
document_blobs = sa.Table(
    "document_blobs",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

#: The rest of a document larger than one chunk, ``seq`` 1, 2, … (migration 0004).
document_chunks = sa.Table(
    "document_chunks",
    metadata,
    sa.Column("sha256", sa.String(64), sa.ForeignKey("document_blobs.sha256", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("shipment_id", sa.String(36), sa.ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("filename", sa.String(400), nullable=False),
    sa.Column("media_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("page_count", sa.Integer),
    sa.Column("exclude_from_print", sa.Boolean, nullable=False),
    #: When ``[retention]`` deleted the document's bytes (migration 0008); the row stays.
    sa.Column("purged_at", UtcDateTime),
    sa.Index("ix_documents_sha256", "sha256"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("shipment_id", sa.String(36), sa.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32)),
    sa.Column("channel", sa.String(64)),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_events_shipment_id", "shipment_id", "id"),
    sa.Index("ix_events_kind_at", "kind", "at"),
)

reserved_ids = sa.Table(
    "reserved_ids",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False, key="sender"),
    sa.Column("reserved_at", UtcDateTime, nullable=False),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("tenant", sa.String(100), key="sender"),
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("field", sa.String(300)),
    sa.Column("shipment_id", sa.String(36)),
    sa.Column("detail", sa.Text, nullable=False),
    #: The console's operator who did it (migration 0006); sender systems are in ``sender``.
    sa.Column("actor", sa.String(100)),
    sa.Column("client", sa.String(64)),
    sa.Index("ix_audit_events_at", "at"),
)

# --- dispatch (migration 0002) ---

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
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
    sa.Index("ix_jobs_due", "state", "run_after"),
    sa.Index("ix_jobs_shipment", "shipment_id"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
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
    # What the print house's receipt charged, as it splits it (migration 0008); cost_ore is the sum.
    sa.Column("production_cost_ore", sa.Integer),
    sa.Column("postage_ore", sa.Integer),
    sa.Column("sheets", sa.Integer),
    sa.Index("ix_deliveries_shipment", "shipment_id"),
    sa.Index("ix_deliveries_submitted", "submitted_at"),
    sa.Index("ix_deliveries_open", "channel", "open"),
    sa.Index("ix_deliveries_reference", "channel", "reference"),
)

registry = sa.Table(
    "registry",
    metadata,
    sa.Column("identifier", sa.String(20), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

channel_health = sa.Table(
    "channel_health",
    metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("failing_since", UtcDateTime),
    sa.Column("open_until", UtcDateTime),
    sa.Column("last_error", sa.Text),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32)),
    sa.Column("shipment_id", sa.String(36)),
    sa.Column("detail", sa.Text, nullable=False),
    # e-mail (migration 0007, gateway/store/alert_mail.py): NULL state = waiting to be mailed
    sa.Column("mail_state", sa.String(16)),
    sa.Column("mailed_at", UtcDateTime),
    sa.Column("mail_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("mail_after", UtcDateTime),
    sa.Column("mail_error", sa.Text),
    # acknowledged in the console (migration 0006)
    sa.Column("acknowledged_at", UtcDateTime),
    sa.Column("acknowledged_by", sa.String(100)),
    sa.Column("acknowledge_note", sa.Text),
    sa.Index("ix_alerts_at", "at"),
    sa.Index("ix_alerts_mail", "mail_state", "kind"),
)

# --- the console (migration 0006) ---

#: Logged-in operators: the cookie holds a random token, the table its SHA-256 (a copy of the
#: table lets nobody log in). ``csrf`` is the session's form token.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("client", sa.String(64)),
    sa.Index("ix_console_sessions_last_seen", "last_seen_at"),
)

#: Failed logins, by ``account:<name>`` and ``address:<ip>``: the rate limit holds across processes.
console_login_failures = sa.Table(
    "console_login_failures",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_console_login_failures_key", "key", "at"),
)


def by_key(table: sa.Table) -> list[sa.ColumnElement[Any]]:
    """The table's columns, labelled with their keys where a key is not the column's name, so a
    row's mapping (``dict(row._mapping)``) has the keys (``sender``), not the SQL names."""
    return [column if column.key == column.name else column.label(column.key) for column in table.c]


def in_order(table: sa.Table, **equal: object) -> sa.Select[Any]:
    """The rows of a log table (``audit_events``, ``alerts``) in the order written, those whose
    columns equal the values given (a value of None: any)."""
    query = sa.select(*by_key(table)).order_by(table.c.id)
    for column, value in equal.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    return query

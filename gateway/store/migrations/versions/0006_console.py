"""The operator console: searchable columns on shipments (filled from ``data``), alerts that
operators acknowledge, who did what in the audit, sessions and failed logins.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UtcDateTime = sa.DateTime(timezone=True)
_SEARCH_COLUMNS = (
    ("case_year", sa.Integer()), ("case_sequence_number", sa.Integer()), ("document_number", sa.Integer()),
    ("recipient_identifier", sa.String(64)), ("recipient_name_key", sa.String(200)), ("title_key", sa.String(200)),
)


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        for name, type_ in _SEARCH_COLUMNS:
            batch.add_column(sa.Column(name, type_))
    _backfill()
    op.create_index("ix_shipments_external_ref", "shipments", ["external_ref"])
    op.create_index("ix_shipments_created", "shipments", ["created_at", "id"])
    op.create_index("ix_shipments_case", "shipments", ["case_year", "case_sequence_number", "document_number"])
    op.create_index("ix_shipments_recipient", "shipments", ["recipient_identifier"])
    op.create_index("ix_shipments_recipient_name", "shipments", ["recipient_name_key"],
                    postgresql_ops={"recipient_name_key": "text_pattern_ops"})
    op.create_index("ix_shipments_title_key", "shipments", ["title_key"], postgresql_ops={"title_key": "text_pattern_ops"})
    op.create_index("ix_events_kind_at", "events", ["kind", "at"])
    op.create_index("ix_deliveries_submitted", "deliveries", ["submitted_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("acknowledged_at", UtcDateTime))
        batch.add_column(sa.Column("acknowledged_by", sa.String(100)))
        batch.add_column(sa.Column("acknowledge_note", sa.Text()))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("actor", sa.String(100)))
        batch.add_column(sa.Column("client", sa.String(64)))
    op.create_table(
        "console_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("client", sa.String(64)),
    )
    op.create_index("ix_console_sessions_last_seen", "console_sessions", ["last_seen_at"])
    op.create_table(
        "console_login_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_console_login_failures_key", "console_login_failures", ["key", "at"])


def _backfill() -> None:
    """The letters already stored get their search columns from their JSON ``data``, in one
    statement (a Python loop over a million letters would take minutes)."""
    if op.get_bind().dialect.name == "postgresql":
        def field(*path: str) -> str:
            return "data" + "".join(f"->'{p}'" for p in path[:-1]) + f"->>'{path[-1]}'"
    else:
        def field(*path: str) -> str:
            return "json_extract(data, '$." + ".".join(path) + "')"
    integer = "CAST({} AS INTEGER)"
    case_year = f"COALESCE({field('case_metadata', 'case_year')}, {field('import_metadata', 'case_year')})"
    case_seq = f"COALESCE({field('case_metadata', 'case_sequence_number')}, {field('import_metadata', 'case_sequence_number')})"
    name = f"COALESCE({field('recipient', 'name')}, {field('recipient', 'address', 'name')})"
    op.execute(
        "UPDATE shipments SET "
        f"case_year = {integer.format(case_year)}, "
        f"case_sequence_number = {integer.format(case_seq)}, "
        f"document_number = {integer.format(field('case_metadata', 'journal_entry_number'))}, "
        f"recipient_identifier = SUBSTR({field('recipient', 'identifier')}, 1, 64), "
        f"recipient_name_key = LOWER(SUBSTR({name}, 1, 200)), "
        "title_key = LOWER(SUBSTR(title, 1, 200))"
    )


def downgrade() -> None:
    op.drop_table("console_login_failures")
    op.drop_table("console_sessions")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("client")
        batch.drop_column("actor")
    with op.batch_alter_table("alerts") as batch:
        for name in ("acknowledge_note", "acknowledged_by", "acknowledged_at"):
            batch.drop_column(name)
    op.drop_index("ix_deliveries_submitted", table_name="deliveries")
    op.drop_index("ix_events_kind_at", table_name="events")
    for index in ("ix_shipments_title_key", "ix_shipments_recipient_name", "ix_shipments_recipient", "ix_shipments_case",
                  "ix_shipments_created", "ix_shipments_external_ref"):
        op.drop_index(index, table_name="shipments")
    with op.batch_alter_table("shipments") as batch:
        for name, _type in reversed(_SEARCH_COLUMNS):
            batch.drop_column(name)

"""Governance: the audit log refuses UPDATE and DELETE in the database itself; API tokens.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from podium.store.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MESSAGE = "audit records are append-only"

# The guard lives in the database, so no code path (podium's, a script's, a psql session's)
# can rewrite history by accident. TRUNCATE and DROP are left to database privileges:
# give the role podium runs as only INSERT and SELECT on audit_log for that.
PG_UPGRADE = [
    f"""
    CREATE OR REPLACE FUNCTION podium_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION podium_audit_append_only()
    """,
]
PG_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS podium_audit_append_only()",
]
SQLITE_UPGRADE = [
    f"""
    CREATE TRIGGER audit_log_no_{verb.lower()}
    BEFORE {verb} ON audit_log
    BEGIN
        SELECT RAISE(ABORT, '{MESSAGE}');
    END
    """
    for verb in ("UPDATE", "DELETE")
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_log_no_update",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in PG_UPGRADE if dialect == "postgresql" else SQLITE_UPGRADE:
        op.execute(statement)
    op.create_table(
        "tokens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index(op.f("ix_tokens_prefix"), "tokens", ["prefix"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tokens_prefix"), table_name="tokens")
    op.drop_table("tokens")
    dialect = op.get_bind().dialect.name
    for statement in PG_DOWNGRADE if dialect == "postgresql" else SQLITE_DOWNGRADE:
        op.execute(statement)

"""Indexes for the dashboard's lists (issue 11): runs newest first, whole or by pipeline or
by status, read a page along an index instead of sorting every matching run; the audit log
filtered by action or actor, and data versions newest first, likewise.

The three composite run indexes replace the single-column ones on pipeline, status and
created_at (each is a prefix of its replacement), so a run insert updates as many indexes
as before.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

RUNS = {  # new index -> columns
    "ix_runs_created_at_id": ["created_at", "id"],
    "ix_runs_pipeline_created_at": ["pipeline", "created_at", "id"],
    "ix_runs_status_created_at": ["status", "created_at", "id"],
}
REPLACED = {  # the single-column indexes of 0001, each a prefix of one above
    "ix_runs_created_at": ["created_at"],
    "ix_runs_pipeline": ["pipeline"],
    "ix_runs_status": ["status"],
}
OTHERS = {  # index -> (table, columns)
    "ix_audit_log_action_id": ("audit_log", ["action", "id"]),
    "ix_audit_log_actor_id": ("audit_log", ["actor", "id"]),
    "ix_data_versions_created_at": ("data_versions", ["created_at", "version"]),
}


def upgrade() -> None:
    for name, columns in RUNS.items():
        op.create_index(name, "runs", columns, unique=False)
    for name in REPLACED:
        op.drop_index(name, table_name="runs")
    for name, (table, columns) in OTHERS.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _) in OTHERS.items():
        op.drop_index(name, table_name=table)
    for name, columns in REPLACED.items():
        op.create_index(name, "runs", columns, unique=False)
    for name in RUNS:
        op.drop_index(name, table_name="runs")

"""Initial schema: models, versions, flavors, aliases, audit log, runs, steps, artifacts.

Revision ID: 0001
Revises:
"""

from alembic import op

from podium.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = [
    "models",
    "model_versions",
    "model_flavors",
    "aliases",
    "audit_log",
    "runs",
    "step_runs",
    "artifacts",
]


def upgrade() -> None:
    bind = op.get_bind()
    # The first revision creates the tables as declared; later revisions use op.* deltas.
    metadata.create_all(bind, tables=[metadata.tables[t] for t in TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[t] for t in reversed(TABLES)])

"""Runs remember their pipeline reference (resume); steps record why the cache hit or missed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pipeline_ref", sa.String(length=512), nullable=True))
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(
            sa.Column("cache_info", JSON, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("cache_info")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pipeline_ref")

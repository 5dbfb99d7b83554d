"""Data versions by content hash, with schema and profile; the data each run read.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from podium.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "data_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("schema", JSON, nullable=False),
        sa.Column("profile", JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "version", name="uq_data_version"),
        sa.UniqueConstraint("dataset_id", "digest", name="uq_data_digest"),
    )
    op.create_index(op.f("ix_data_versions_digest"), "data_versions", ["digest"], unique=False)
    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("data_version_id", ID, nullable=False),
        sa.Column("step", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(["data_version_id"], ["data_versions.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "data_version_id"),
    )


def downgrade() -> None:
    op.drop_table("run_inputs")
    op.drop_index(op.f("ix_data_versions_digest"), table_name="data_versions")
    op.drop_table("data_versions")
    op.drop_table("datasets")

"""Schedules and their fires (one row per fire time: the claim that makes it run once).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from podium.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("pipeline_ref", sa.String(length=512), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=True),
        sa.Column("interval_s", sa.Float(), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.Column("missed", sa.String(length=8), nullable=False),
        sa.Column("overlap", sa.String(length=8), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("schedule_id", ID, nullable=False),
        sa.Column("fire_time", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "fire_time", name="uq_schedule_fire"),
    )


def downgrade() -> None:
    op.drop_table("schedule_fires")
    op.drop_table("schedules")

"""Widen runs.trigger to 255 characters.

A run's trigger names what started it: ``schedule:NAME`` or ``event:NAME``, with schedule
names of up to 128 characters and event names of up to 200. At 32 characters PostgreSQL
refused the run of any schedule named longer than 23 characters (SQLite does not enforce
lengths, but its declared type is updated too, so both schemas stay what schema.py says).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # SQLite rebuilds the table; others ALTER
        batch.alter_column("trigger", type_=sa.String(255), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("trigger", type_=sa.String(32), existing_nullable=False)

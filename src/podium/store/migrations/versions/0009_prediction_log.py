"""The prediction log and the feedback joined to it by prediction id.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from podium.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("variant", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=256), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("outputs", JSON, nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_predictions_at"), "predictions", ["at"], unique=False)
    op.create_index(op.f("ix_predictions_deployment"), "predictions", ["deployment"], unique=False)
    op.create_table(
        "feedback",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("prediction_id", sa.String(length=128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("label", JSON, nullable=True),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_feedback_prediction_id"), "feedback", ["prediction_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_prediction_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_predictions_deployment"), table_name="predictions")
    op.drop_index(op.f("ix_predictions_at"), table_name="predictions")
    op.drop_table("predictions")

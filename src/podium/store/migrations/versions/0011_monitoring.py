"""Monitoring: reference profiles of model versions, fired alerts, retraining loops, and
the memory each serving worker reports; the prediction log indexed for windows.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from podium.store.schema import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # One index serves the window queries (a deployment's newest rows) and costs the
    # prediction log's inserts one index fewer than the two it replaces.
    op.drop_index("ix_predictions_at", table_name="predictions")
    op.drop_index("ix_predictions_deployment", table_name="predictions")
    op.create_index("ix_predictions_deployment_at", "predictions", ["deployment", "at"])
    with op.batch_alter_table("deployment_workers") as batch:
        batch.add_column(sa.Column("rss_bytes", sa.BigInteger(), nullable=True))
    op.create_table(
        "model_references",
        sa.Column("version_id", ID, sa.ForeignKey("model_versions.id"), primary_key=True),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("data_ref", sa.String(length=512), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("figure", sa.String(length=256), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("op", sa.String(length=4), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
    )
    op.create_index("ix_alerts_deployment_rule", "alerts", ["deployment", "rule", "at"])
    op.create_table(
        "retrain_loops",
        sa.Column("deployment", sa.String(length=128), primary_key=True),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retrain_loops")
    op.drop_index("ix_alerts_deployment_rule", "alerts")
    op.drop_table("alerts")
    op.drop_table("model_references")
    op.drop_index("ix_predictions_deployment_at", table_name="predictions")
    op.create_index("ix_predictions_deployment", "predictions", ["deployment"])
    op.create_index("ix_predictions_at", "predictions", ["at"])
    with op.batch_alter_table("deployment_workers") as batch:
        batch.drop_column("rss_bytes")

"""Tables of the metadata store (SQLAlchemy Core). Changes go through an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

# The newest migration; the store skips Alembic entirely when the database is at it.
HEAD_REVISION = "0016"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY autoincrements

metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("tags", Json, nullable=False, default=dict),
    Column("latest_version", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("model_id", Id, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("signature", Json, nullable=True),
    Column("input_example", Json, nullable=True),
    Column("reference_output", Json, nullable=True),
    Column("metrics", Json, nullable=False, default=dict),
    Column("params", Json, nullable=False, default=dict),
    Column("tags", Json, nullable=False, default=dict),
    Column("run_id", String(32), nullable=True, index=True),
    Column("data_ref", String(256), nullable=True),
    Column("code_version", String(64), nullable=True),
    Column("fast_path", Json, nullable=True),
    UniqueConstraint("model_id", "version", name="uq_model_version"),
)

model_flavors = Table(
    "model_flavors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version_id", Id, ForeignKey("model_versions.id"), nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("digest", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("meta", Json, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("version_id", "flavor", name="uq_version_flavor"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", Id, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version_id", Id, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False, index=True),
    Column("before", Json, nullable=True),
    Column("after", Json, nullable=True),
    Column("request_id", String(64), nullable=True),
)
# The log only grows: a filter by action or actor reads its newest matching records from
# these instead of scanning the whole log (newest first is by id).
Index("ix_audit_log_action_id", audit_log.c.action, audit_log.c.id)
Index("ix_audit_log_actor_id", audit_log.c.actor, audit_log.c.id)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pipeline", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("params", Json, nullable=False, default=dict),
    Column("trigger", String(255), nullable=False, default="manual"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("scheduled_time", UTCDateTime, nullable=True),
    Column("pipeline_ref", String(512), nullable=True),
    Column("error", Text, nullable=True),
    Column("code_version", String(64), nullable=True),
)

# Run lists are newest first, (created_at, id), whole or by pipeline or by status: each
# reads a page (and skips an offset) along one of these without sorting or table reads.
# A filter by trigger has no index of its own: a kind (``schedule``) matches several values
# (``schedule:NAME``), so an index led by trigger would still sort; it reads along these and
# checks each run's trigger: under 10 ms at any offset of 10,000 runs on SQLite and
# PostgreSQL, and no fourth index for every run insert to update.
Index("ix_runs_created_at_id", runs.c.created_at, runs.c.id)
Index("ix_runs_pipeline_created_at", runs.c.pipeline, runs.c.created_at, runs.c.id)
Index("ix_runs_status_created_at", runs.c.status, runs.c.created_at, runs.c.id)

step_runs = Table(
    "step_runs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("cache_hit", Boolean, nullable=False, default=False),
    Column("cache_key", String(64), nullable=True, index=True),
    Column("cache_info", Json, nullable=False, default=dict),
    Column("inputs", Json, nullable=False, default=dict),
    Column("outputs", Json, nullable=False, default=list),
    Column("upstream", Json, nullable=False, default=list),
    Column("position", Integer, nullable=False, default=0),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("materializer", String(32), nullable=False),
    Column("type_name", String(256), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True, index=True),
    Column("step", String(256), nullable=True),
    Column("name", String(256), nullable=False),
    Column("meta", Json, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("pipeline_ref", String(512), nullable=False),
    Column("cron", String(128), nullable=True),
    Column("interval_s", Float, nullable=True),
    Column("params", Json, nullable=False, default=dict),
    Column("missed", String(8), nullable=False, default="skip"),
    Column("overlap", String(8), nullable=False, default="skip"),
    Column("max_concurrent", Integer, nullable=False, default=1),
    Column("paused", Boolean, nullable=False, default=False),
    Column("event", String(256), nullable=True),  # fire on this event instead of a clock
    Column("next_fire_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("schedule_id", Id, ForeignKey("schedules.id"), nullable=False),
    Column("fire_time", UTCDateTime, nullable=False),
    # claimed -> started (run_id set) ; or skipped (overlap) ; queued waits for capacity
    Column("status", String(16), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("claimed_by", String(64), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=True),
    UniqueConstraint("schedule_id", "fire_time", name="uq_schedule_fire"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("latest_version", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
)

data_versions = Table(
    "data_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dataset_id", Id, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False, index=True),
    Column("format", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("schema", Json, nullable=False),
    Column("profile", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("run_id", String(32), nullable=True),
    UniqueConstraint("dataset_id", "version", name="uq_data_version"),
    UniqueConstraint("dataset_id", "digest", name="uq_data_digest"),
)
Index("ix_data_versions_created_at", data_versions.c.created_at, data_versions.c.version)

# Data versions a run read (lineage: data -> run -> model version).
run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("data_version_id", Id, ForeignKey("data_versions.id"), primary_key=True),
    Column("step", String(256), nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, index=True),
    Column("payload", Json, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
)

event_fires = Table(
    "event_fires",
    metadata,
    Column("schedule_id", Id, ForeignKey("schedules.id"), primary_key=True),
    Column("event_id", Id, ForeignKey("events.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("claimed_by", String(64), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=True),
)

deployments = Table(
    "deployments",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("spec", Json, nullable=False),  # the desired state servers reconcile to
    Column("state", Json, nullable=False, default=dict),  # where the rollout is now
    Column("revision", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active, paused
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

deployment_events = Table(
    "deployment_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment", String(128), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("detail", Json, nullable=False, default=dict),
)

deployment_workers = Table(
    "deployment_workers",
    metadata,
    Column("deployment", String(128), primary_key=True),
    Column("worker", String(128), primary_key=True),  # host:pid
    Column("revision", Integer, nullable=False),  # the revision it serves
    Column("versions", Json, nullable=False),  # variant -> models:/NAME/VERSION
    Column("status", String(16), nullable=False),  # ready, upgrading, failed
    Column("detail", Text, nullable=False, default=""),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),  # the heartbeat
    Column("rss_bytes", BigInteger, nullable=True),  # resident memory at the heartbeat
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", String(128), primary_key=True),  # the prediction id (the request id)
    Column("at", UTCDateTime, nullable=False),
    Column("deployment", String(128), nullable=False),
    Column("variant", String(128), nullable=False),
    Column("model_version", String(256), nullable=False),
    Column("inputs", Json, nullable=False),
    Column("outputs", Json, nullable=False),
    Column("latency_ms", Float, nullable=False),
)

Index("ix_predictions_deployment_at", predictions.c.deployment, predictions.c.at)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("prediction_id", String(128), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("label", Json, nullable=True),
    Column("reward", Float, nullable=True),
)

retention_policies = Table(
    "retention_policies",
    metadata,
    Column("kind", String(16), primary_key=True),  # pipeline or model
    Column("name", String(256), primary_key=True),
    Column("keep_last", Integer, nullable=True),
    Column("max_age_s", Float, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

model_references = Table(
    "model_references",
    metadata,
    Column("version_id", Id, ForeignKey("model_versions.id"), primary_key=True),
    Column("digest", String(128), nullable=False),  # the profile's blob (.npz)
    Column("rows", BigInteger, nullable=False),
    Column("summary", Json, nullable=False),  # column kinds and sizes
    Column("data_ref", String(512), nullable=True),  # the data it was computed on
    Column("created_at", UTCDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("deployment", String(128), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("figure", String(256), nullable=False),
    Column("value", Float, nullable=True),
    Column("op", String(4), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Json, nullable=False),  # window, sinks and how each delivery went
)
Index("ix_alerts_deployment_rule", alerts.c.deployment, alerts.c.rule, alerts.c.at)

retrain_loops = Table(
    "retrain_loops",
    metadata,
    Column("deployment", String(128), primary_key=True),
    Column("phase", String(16), nullable=False),  # training, shadow, canary, or a final one
    Column("detail", Json, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

Index("ix_model_versions_model", model_versions.c.model_id, model_versions.c.version)

# API tokens: the secret is never stored, only its sha256 (hex) and a prefix to find it by.
tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)

# Approval policies (G2): one per model or deployment; rules hold protected aliases, the
# approver role, gates and whether self-approval is allowed (podium.core.policy).
policies = Table(
    "policies",
    metadata,
    Column("kind", String(16), primary_key=True),  # model or deployment
    Column("name", String(128), primary_key=True),
    Column("rules", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(32), primary_key=True),  # sorts by creation time (new_id)
    Column("action", String(64), nullable=False),  # alias.set, deployment.promote ...
    Column("target", String(256), nullable=False),  # models:/churn@champion ...
    Column("payload", Json, nullable=False),  # {"version": 3}
    Column("approver_role", String(16), nullable=True),
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    # pending -> approved -> applied; or rejected, or superseded (the target moved otherwise)
    Column("status", String(16), nullable=False),
    Column("decided_by", String(128), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_approval_requests_target_status", approval_requests.c.target, approval_requests.c.status)
Index("ix_approval_requests_status", approval_requests.c.status)

"""The metadata store (SQLAlchemy 2 + Alembic): the only package that imports sqlalchemy."""

from __future__ import annotations

from podium.store.alerts import AlertRepo, LoopRepo
from podium.store.approvals import ApprovalRepo
from podium.store.audit import AuditRepo
from podium.store.base import Database
from podium.store.data import DataRepo
from podium.store.deployments import DeploymentRepo
from podium.store.engine import make_engine, normalize_url
from podium.store.migrate import upgrade
from podium.store.models import ModelRepo
from podium.store.predictions import PredictionRepo
from podium.store.retention import RetentionRepo
from podium.store.runs import RunRepo
from podium.store.schedules import ScheduleRepo
from podium.store.tokens import TokenRepo

__all__ = ["MetadataStore"]


class MetadataStore:
    """Opens (and migrates) the database at ``url`` and exposes its repositories.

    >>> store = MetadataStore("sqlite://")
    >>> store.models.list_models()
    []
    """

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.db = Database(make_engine(self.url))
        with self.db.translate_errors():
            upgrade(self.db.engine)
        self.models = ModelRepo(self.db)
        self.runs = RunRepo(self.db)
        self.audit = AuditRepo(self.db)
        self.schedules = ScheduleRepo(self.db)
        self.data = DataRepo(self.db)
        self.retention = RetentionRepo(self.db)
        self.deployments = DeploymentRepo(self.db)
        self.predictions = PredictionRepo(self.db)
        self.alerts = AlertRepo(self.db)
        self.loops = LoopRepo(self.db)
        self.tokens = TokenRepo(self.db)
        self.approvals = ApprovalRepo(self.db)

    @property
    def backend(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.engine.dispose()

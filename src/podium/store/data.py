"""Datasets and their versions (by content hash), and which runs read which versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from podium.core.clock import utcnow
from podium.core.errors import NotFoundError
from podium.core.names import DataRef, check_name
from podium.core.records import DataVersion
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

D = t.datasets
DV = t.data_versions


class DataRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_version(self, name: str, *, digest: str, **fields: Any) -> tuple[DataVersion, bool]:
        """The version holding ``digest``: the existing one, or a new one numbered next.

        Returns the version and whether it was created.
        """
        check_name(name, "dataset name")
        now = utcnow()
        with self.db.write() as conn:
            ins = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
            conn.execute(
                ins(D)
                .values(name=name, latest_version=0, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            dataset_id = conn.execute(
                select(D.c.id).where(D.c.name == name).with_for_update()
            ).scalar_one()
            existing = conn.execute(
                select(DV.c.id).where((DV.c.dataset_id == dataset_id) & (DV.c.digest == digest))
            ).scalar()
            if existing is not None:
                return self._versions(conn, DV.c.id == existing)[0], False
            number = conn.execute(
                update(D)
                .where(D.c.id == dataset_id)
                .values(latest_version=D.c.latest_version + 1)
                .returning(D.c.latest_version)
            ).scalar_one()
            vid = conn.execute(
                insert(DV)
                .values(
                    dataset_id=dataset_id, version=number, digest=digest, created_at=now, **fields
                )
                .returning(DV.c.id)
            ).scalar_one()
            record = self._versions(conn, DV.c.id == vid)[0]
            audit(
                conn,
                "data_version.create",
                record.uri,
                None,
                {"digest": digest, "rows": record.rows, "source": record.source},
            )
            return record, True

    def get(self, ref: DataRef) -> DataVersion:
        with self.db.read() as conn:
            did = conn.execute(select(D.c.id).where(D.c.name == ref.name)).scalar()
            if did is None:
                names = list(conn.execute(select(D.c.name).order_by(D.c.name).limit(10)).scalars())
                known = ", ".join(names) or "none"
                raise NotFoundError(
                    f"Dataset {ref.name!r} not found. Known datasets: {known}.",
                    hint="Register data with `podium data add PATH --name NAME`.",
                )
            where = DV.c.dataset_id == did
            if ref.version is not None:
                where = where & (DV.c.version == ref.version)
            found = self._versions(conn, where, newest_first=True, limit=1)
            if not found:
                raise NotFoundError(
                    f"Dataset {ref.name!r} has no version {ref.version}.",
                    hint=f"See its versions with `podium data show {ref.name}`.",
                )
            return found[0]

    def list_versions(
        self, name: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DataVersion]:
        """Versions newest first (ix_data_versions_created_at), of one dataset or all."""
        with self.db.read() as conn:
            where = D.c.name == name if name else None
            return self._versions(conn, where, newest_first=True, limit=limit, offset=offset)

    def record_input(self, run_id: str, version: DataVersion, step: str | None) -> None:
        """Remember that ``run_id`` read ``version`` (once per run and version)."""
        with self.db.write() as conn:
            vid = self._id(conn, version)
            ins = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
            conn.execute(
                ins(t.run_inputs)
                .values(run_id=run_id, data_version_id=vid, step=step)
                .on_conflict_do_nothing()
            )

    def inputs_of(self, run_id: str) -> list[DataVersion]:
        with self.db.read() as conn:
            ids = select(t.run_inputs.c.data_version_id).where(t.run_inputs.c.run_id == run_id)
            return self._versions(conn, DV.c.id.in_(ids))

    def produced_by(self, run_id: str) -> list[DataVersion]:
        """Data versions registered inside run ``run_id`` (lineage)."""
        with self.db.read() as conn:
            return self._versions(conn, DV.c.run_id == run_id)

    def runs_reading(self, ref: DataRef) -> list[str]:
        version = self.get(ref)
        with self.db.read() as conn:
            vid = self._id(conn, version)
            return list(
                conn.execute(
                    select(t.run_inputs.c.run_id).where(t.run_inputs.c.data_version_id == vid)
                ).scalars()
            )

    def _id(self, conn: Connection, v: DataVersion) -> int:
        return int(
            conn.execute(
                select(DV.c.id)
                .join(D, D.c.id == DV.c.dataset_id)
                .where((D.c.name == v.name) & (DV.c.version == v.version))
            ).scalar_one()
        )

    def _versions(
        self,
        conn: Connection,
        where: Any,
        *,
        newest_first: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[DataVersion]:
        q = select(DV, D.c.name.label("dataset")).join(D, D.c.id == DV.c.dataset_id)
        if where is not None:
            q = q.where(where)
        order = (
            # id last: versions made in the same instant still page in one order
            (DV.c.created_at.desc(), DV.c.version.desc(), DV.c.id.desc())
            if newest_first
            else (D.c.name, DV.c.version)
        )
        rows = conn.execute(q.order_by(*order).limit(limit).offset(offset))
        return [
            DataVersion(
                name=r.dataset,
                version=r.version,
                digest=r.digest,
                format=r.format,
                source=r.source,
                rows=r.rows,
                size=r.size,
                schema=r.schema,
                profile=r.profile,
                created_at=r.created_at,
                created_by=r.created_by,
                run_id=r.run_id,
            )
            for r in rows
        ]

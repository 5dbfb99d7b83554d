"""Model registry tables: models, immutable numbered versions, flavors and movable aliases.

Version numbers come from a per-model counter bumped by ``UPDATE ... RETURNING`` inside
a write transaction, so concurrent registrations get 1, 2, 3 ... with no gap or
duplicate: PostgreSQL serialises them on the model row, SQLite on ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from podium.core.clock import utcnow
from podium.core.errors import NotFoundError
from podium.core.names import ModelRef, check_name
from podium.core.records import FlavorRecord, Model, ModelVersion
from podium.store import approvals
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

V = t.model_versions
M = t.models


class ModelRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes ----------------------------------------------------------------------------
    def create_version(
        self,
        name: str,
        *,
        flavors: Sequence[FlavorRecord],
        signature: dict[str, Any] | None = None,
        input_example: dict[str, Any] | None = None,
        reference_output: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        run_id: str | None = None,
        data_ref: str | None = None,
        code_version: str | None = None,
        alias: str | None = None,
        created_by: str = "",
        reference: dict[str, Any] | None = None,
        fast_path: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Create the next version of ``name`` (creating the model if new), atomically: the
        version, its flavors, its ``alias`` and its ``reference`` profile record (digest,
        rows, summary, data_ref) are written in one transaction, or nothing is."""
        check_name(name, "model name")
        if alias is not None:
            check_name(alias, "alias")
        now = utcnow()
        with self.db.write() as conn:
            model_id = self._ensure_model(conn, name, now)
            number = conn.execute(
                update(M)
                .where(M.c.id == model_id)
                .values(latest_version=M.c.latest_version + 1, updated_at=now)
                .returning(M.c.latest_version)
            ).scalar_one()
            version_id = conn.execute(
                insert(V)
                .values(
                    model_id=model_id,
                    version=number,
                    created_at=now,
                    created_by=created_by,
                    description=description,
                    signature=signature,
                    input_example=input_example,
                    reference_output=reference_output,
                    metrics=metrics or {},
                    params=params or {},
                    tags=tags or {},
                    run_id=run_id,
                    data_ref=data_ref,
                    code_version=code_version,
                    fast_path=fast_path,
                )
                .returning(V.c.id)
            ).scalar_one()
            for fl in flavors:
                self._insert_flavor(conn, version_id, fl, now)
            record = self._versions(conn, V.c.id == version_id)[0]
            audit(conn, "model_version.create", record.uri, None, _summary(record))
            if reference is not None:
                self._put_reference(conn, version_id, record.uri, **reference)
            if alias is not None:
                self._set_alias(conn, model_id, name, alias, number, version_id)
                record = self._versions(conn, V.c.id == version_id)[0]
        return record

    def add_flavor(self, name: str, version: int, flavor: FlavorRecord) -> ModelVersion:
        """Attach another serialized form (e.g. ONNX) to an existing version."""
        with self.db.write() as conn:
            self._lock_model(conn, name)
            mv = self._version_row(conn, name, version)
            self._insert_flavor(conn, mv, flavor, utcnow())
            uri = f"models:/{name}/{version}"
            audit(conn, "model_version.add_flavor", uri, None, flavor.to_dict())
            return self._versions(conn, V.c.id == mv)[0]

    def set_fast_path(
        self,
        name: str,
        version: int,
        record: dict[str, Any],
        flavor: FlavorRecord | None = None,
        *,
        expected: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Record the version's ONNX fast path (and its ``onnx`` flavor, when parity held) in
        one transaction, if the record is still ``expected``: when another process checked
        the version meanwhile, its record stands and is what this returns."""
        with self.db.write() as conn:
            self._lock_model(conn, name)
            vid = self._version_row(conn, name, version)
            current = conn.execute(select(V.c.fast_path).where(V.c.id == vid)).scalar()
            if current != expected:
                return self._versions(conn, V.c.id == vid)[0]
            F = t.model_flavors
            have = {row[0] for row in conn.execute(select(F.c.flavor).where(F.c.version_id == vid))}
            if flavor is not None and flavor.flavor not in have:
                self._insert_flavor(conn, vid, flavor, utcnow())
            conn.execute(update(V).where(V.c.id == vid).values(fast_path=record))
            audit(
                conn,
                "model_version.fast_path",
                f"models:/{name}/{version}",
                expected,
                {k: record.get(k) for k in ("status", "reason", "tolerance")},
            )
            return self._versions(conn, V.c.id == vid)[0]

    def set_reference(
        self,
        name: str,
        version: int,
        digest: str,
        rows: int,
        summary: dict[str, Any],
        data_ref: str | None = None,
    ) -> None:
        """Record (or replace) the reference profile monitoring compares this version with."""
        with self.db.write() as conn:
            vid = self._version_row(conn, name, version)
            self._put_reference(
                conn, vid, f"models:/{name}/{version}", digest, rows, summary, data_ref
            )

    def _put_reference(
        self,
        conn: Connection,
        vid: int,
        uri: str,
        digest: str,
        rows: int,
        summary: dict[str, Any],
        data_ref: str | None = None,
    ) -> None:
        R = t.model_references
        before = conn.execute(select(R.c.digest).where(R.c.version_id == vid)).scalar()
        conn.execute(delete(R).where(R.c.version_id == vid))
        values = {"digest": digest, "rows": rows, "summary": summary, "data_ref": data_ref}
        conn.execute(insert(R).values(version_id=vid, created_at=utcnow(), **values))
        audit(
            conn,
            "model_version.set_reference",
            uri,
            {"digest": before} if before else None,
            {"digest": digest, "rows": rows, "data_ref": data_ref},
        )

    def reference(self, name: str, version: int) -> dict[str, Any] | None:
        """The version's reference profile record (digest, rows, summary), if it has one."""
        R = t.model_references
        with self.db.read() as conn:
            vid = self._version_row(conn, name, version)
            row = conn.execute(select(R).where(R.c.version_id == vid)).first()
            return None if row is None else dict(row._mapping)

    def set_alias(
        self, name: str, alias: str, version: int, *, approval: str | None = None
    ) -> ModelVersion:
        """Point ``alias`` at ``version``, creating or moving it. ``approval``: the approved
        request this move carries out, marked applied in the same transaction."""
        check_name(alias, "alias")
        with self.db.write() as conn:
            model_id = self._lock_model(conn, name)
            vid = self._version_row(conn, name, version)
            self._set_alias(conn, model_id, name, alias, version, vid, approval)
            return self._versions(conn, V.c.id == vid)[0]

    def delete_alias(self, name: str, alias: str, *, approval: str | None = None) -> None:
        with self.db.write() as conn:
            model_id = self._lock_model(conn, name)
            current = self._alias_target(conn, model_id, name, alias)
            conn.execute(
                delete(t.aliases).where(
                    (t.aliases.c.model_id == model_id) & (t.aliases.c.alias == alias)
                )
            )
            target = f"models:/{name}@{alias}"
            audit(conn, "alias.delete", target, {"version": current, **_by(approval)}, None)
            _approvals_after_move(conn, target, approval, f"{target} was deleted")

    def update_model(
        self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> Model:
        with self.db.write() as conn:
            self._lock_model(conn, name)
            before = self._models(conn, M.c.name == name)
            if not before:
                raise self._no_model(conn, name)
            values: dict[str, Any] = {"updated_at": utcnow()}
            if description is not None:
                values["description"] = description
            if tags is not None:
                values["tags"] = {**before[0].tags, **tags}
            conn.execute(update(M).where(M.c.name == name).values(**values))
            after = self._models(conn, M.c.name == name)[0]
            audit(
                conn,
                "model.update",
                f"models:/{name}",
                {"description": before[0].description, "tags": before[0].tags},
                {"description": after.description, "tags": after.tags},
            )
            return after

    # -- reads -----------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        with self.db.read() as conn:
            found = self._models(conn, M.c.name == name)
            if not found:
                raise self._no_model(conn, name)
            return found[0]

    def list_models(self, *, limit: int = 100, offset: int = 0) -> list[Model]:
        with self.db.read() as conn:
            return self._models(conn, None, limit=limit, offset=offset)

    def list_versions(self, name: str, *, limit: int = 100, offset: int = 0) -> list[ModelVersion]:
        with self.db.read() as conn:
            model_id = self._model_id(conn, name)
            return self._versions(
                conn, V.c.model_id == model_id, order_desc=True, limit=limit, offset=offset
            )

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            vid = self._version_row(conn, name, version)
            return self._versions(conn, V.c.id == vid)[0]

    def find_versions(
        self, *, run_id: str | None = None, data_ref: str | None = None, limit: int = 1000
    ) -> list[ModelVersion]:
        """Versions registered by run ``run_id`` and/or naming ``data_ref`` (for lineage)."""
        conds = [V.c.run_id == run_id] if run_id is not None else []
        if data_ref is not None:
            conds.append(V.c.data_ref == data_ref)
        if not conds:
            return []
        where = conds[0] if len(conds) == 1 else conds[0] & conds[1]
        with self.db.read() as conn:
            return self._versions(conn, where, limit=limit)

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """The version a reference points at (number, alias, or the latest)."""
        with self.db.read() as conn:
            model_id = self._model_id(conn, ref.name)
            vid: int | None
            if ref.alias is not None:
                ver = self._alias_target(conn, model_id, ref.name, ref.alias)
                vid = self._version_row(conn, ref.name, ver)
            elif ref.version is not None:
                vid = self._version_row(conn, ref.name, ref.version)
            else:
                vid = conn.execute(
                    select(V.c.id)
                    .where(V.c.model_id == model_id)
                    .order_by(V.c.version.desc())
                    .limit(1)
                ).scalar()
                if vid is None:
                    raise NotFoundError(
                        f"Model {ref.name!r} has no versions.",
                        hint="Register one with podium.register_model(model, name).",
                    )
            return self._versions(conn, V.c.id == vid)[0]

    def referenced_digests(self) -> set[str]:
        """Every blob digest a model version refers to (for garbage collection)."""
        with self.db.read() as conn:
            out = set(conn.execute(select(t.model_flavors.c.digest)).scalars())
            return out | set(conn.execute(select(t.model_references.c.digest)).scalars())

    # -- helpers ---------------------------------------------------------------------------
    def _ensure_model(self, conn: Connection, name: str, now: Any) -> int:
        ins = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        conn.execute(
            ins(M)
            .values(
                name=name, description="", tags={}, latest_version=0, created_at=now, updated_at=now
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return int(conn.execute(select(M.c.id).where(M.c.name == name)).scalar_one())

    def _insert_flavor(self, conn: Connection, version_id: int, fl: FlavorRecord, now: Any) -> None:
        conn.execute(
            insert(t.model_flavors).values(
                version_id=version_id,
                flavor=fl.flavor,
                digest=fl.digest,
                size=fl.size,
                meta=fl.meta,
                created_at=now,
            )
        )

    def _set_alias(
        self,
        conn: Connection,
        model_id: int,
        name: str,
        alias: str,
        version: int,
        vid: int,
        approval: str | None = None,
    ) -> None:
        A = t.aliases
        before = conn.execute(
            select(V.c.version)
            .join(A, A.c.version_id == V.c.id)
            .where((A.c.model_id == model_id) & (A.c.alias == alias))
        ).scalar()
        if before is None:
            conn.execute(
                insert(A).values(
                    model_id=model_id, alias=alias, version_id=vid, updated_at=utcnow()
                )
            )
        else:
            conn.execute(
                update(A)
                .where((A.c.model_id == model_id) & (A.c.alias == alias))
                .values(version_id=vid, updated_at=utcnow())
            )
        target = f"models:/{name}@{alias}"
        audit(
            conn,
            "alias.set",
            target,
            None if before is None else {"version": before},
            {"version": version, **_by(approval)},
        )
        _approvals_after_move(conn, target, approval, f"{target} moved to version {version}")

    def _lock_model(self, conn: Connection, name: str) -> int:
        """The model's id, with its row locked until the transaction ends (PostgreSQL).

        Alias moves and model updates read, then write: without the lock two of them at
        once both see the same "before" (a wrong audit trail, a lost update) or collide on
        the alias key. SQLite needs none: ``BEGIN IMMEDIATE`` already serialises writers.
        """
        mid = conn.execute(select(M.c.id).where(M.c.name == name).with_for_update()).scalar()
        if mid is None:
            raise self._no_model(conn, name)
        return int(mid)

    def _model_id(self, conn: Connection, name: str) -> int:
        mid = conn.execute(select(M.c.id).where(M.c.name == name)).scalar()
        if mid is None:
            raise self._no_model(conn, name)
        return int(mid)

    def _no_model(self, conn: Connection, name: str) -> NotFoundError:
        names = list(conn.execute(select(M.c.name).order_by(M.c.name).limit(10)).scalars())
        known = f" Known models: {', '.join(names)}." if names else " No model is registered yet."
        return NotFoundError(
            f"Model {name!r} not found.{known}",
            hint="List them with `podium models list`.",
        )

    def _version_row(self, conn: Connection, name: str, version: int) -> int:
        model_id = self._model_id(conn, name)
        vid = conn.execute(
            select(V.c.id).where((V.c.model_id == model_id) & (V.c.version == version))
        ).scalar()
        if vid is None:
            latest = conn.execute(
                select(func.max(V.c.version)).where(V.c.model_id == model_id)
            ).scalar()
            raise NotFoundError(
                f"Model {name!r} has no version {version}"
                + (f"; the latest is {latest}." if latest else "; it has no versions."),
                hint=f"See them with `podium models show {name}`.",
            )
        return int(vid)

    def _alias_target(self, conn: Connection, model_id: int, name: str, alias: str) -> int:
        A = t.aliases
        rows = {
            row.alias: row.version
            for row in conn.execute(
                select(A.c.alias, V.c.version)
                .join(V, A.c.version_id == V.c.id)
                .where(A.c.model_id == model_id)
            )
        }
        if alias not in rows:
            known = ", ".join(sorted(rows)) or "none"
            raise NotFoundError(
                f"Model {name!r} has no alias {alias!r}. Known aliases: {known}.",
                hint=f"Set one with `podium models alias {name} {alias} VERSION`.",
            )
        return int(rows[alias])

    def _models(
        self, conn: Connection, where: Any, *, limit: int = 100, offset: int = 0
    ) -> list[Model]:
        q = select(M).order_by(M.c.name).limit(limit).offset(offset)
        if where is not None:
            q = q.where(where)
        rows = list(conn.execute(q))
        if not rows:
            return []
        A = t.aliases
        alias_rows = conn.execute(
            select(A.c.model_id, A.c.alias, V.c.version)
            .join(V, A.c.version_id == V.c.id)
            .where(A.c.model_id.in_([r.id for r in rows]))
        )
        by_model: dict[int, dict[str, int]] = {}
        for mid, alias, ver in alias_rows:
            by_model.setdefault(mid, {})[alias] = ver
        return [
            Model(
                name=r.name,
                description=r.description,
                tags=r.tags,
                created_at=r.created_at,
                updated_at=r.updated_at,
                latest_version=r.latest_version,
                aliases=by_model.get(r.id, {}),
            )
            for r in rows
        ]

    def _versions(
        self,
        conn: Connection,
        where: Any,
        *,
        order_desc: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ModelVersion]:
        order = V.c.version.desc() if order_desc else V.c.version
        rows = list(
            conn.execute(
                select(V, M.c.name.label("model_name"))
                .join(M, M.c.id == V.c.model_id)
                .where(where)
                .order_by(order)
                .limit(limit)
                .offset(offset)
            )
        )
        if not rows:
            return []
        ids = [r.id for r in rows]
        flavors: dict[int, list[FlavorRecord]] = {}
        for f in conn.execute(
            select(t.model_flavors)
            .where(t.model_flavors.c.version_id.in_(ids))
            .order_by(t.model_flavors.c.id)
        ):
            flavors.setdefault(f.version_id, []).append(
                FlavorRecord(f.flavor, f.digest, f.size, f.meta)
            )
        aliases: dict[int, list[str]] = {}
        for vid, alias in conn.execute(
            select(t.aliases.c.version_id, t.aliases.c.alias).where(t.aliases.c.version_id.in_(ids))
        ):
            aliases.setdefault(vid, []).append(alias)
        return [
            ModelVersion(
                model=r.model_name,
                version=r.version,
                created_at=r.created_at,
                created_by=r.created_by,
                description=r.description,
                flavors=tuple(flavors.get(r.id, [])),
                signature=r.signature,
                input_example=r.input_example,
                reference_output=r.reference_output,
                metrics=r.metrics,
                params=r.params,
                tags=r.tags,
                run_id=r.run_id,
                data_ref=r.data_ref,
                code_version=r.code_version,
                aliases=tuple(sorted(aliases.get(r.id, []))),
                fast_path=r.fast_path,
            )
            for r in rows
        ]


def _by(approval: str | None) -> dict[str, str]:
    """What an audited move adds when it carries out an approved request."""
    return {} if approval is None else {"approval": approval}


def _approvals_after_move(conn: Connection, target: str, approval: str | None, why: str) -> None:
    """The request this move carries out is applied; any other open one is superseded."""
    if approval is not None:
        approvals.settle(conn, approval, target)
    approvals.supersede(conn, target, why + (f" (request {approval})" if approval else ""))


def _summary(v: ModelVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "flavors": [{"flavor": f.flavor, "digest": f.digest} for f in v.flavors],
        "metrics": v.metrics,
        "run_id": v.run_id,
        "fast_path": (v.fast_path or {}).get("status"),
    }

"""Retention policies, and the deletions garbage collection performs (each one audited)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from podium.core.clock import utcnow
from podium.core.errors import NotFoundError, ValidationError
from podium.core.names import check_name
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

P = t.retention_policies
KINDS = ("pipeline", "model", "predictions")  # predictions: a deployment's log


@dataclass(frozen=True)
class Policy:
    kind: str
    name: str
    keep_last: int | None
    max_age_s: float | None


class RetentionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(
        self, kind: str, name: str, *, keep_last: int | None, max_age_s: float | None
    ) -> Policy:
        if kind not in KINDS:
            raise ValidationError(
                f"Retention applies to {' or '.join(KINDS)}, not {kind!r}.", field="kind"
            )
        check_name(name, "deployment name" if kind == "predictions" else f"{kind} name")
        if keep_last is None and max_age_s is None:
            raise ValidationError("Give --keep-last, --max-age or both.", field="keep_last")
        if keep_last is not None and keep_last < 1:
            raise ValidationError("--keep-last must be at least 1.", field="keep_last")
        if max_age_s is not None and not max_age_s > 0:
            raise ValidationError(
                f"--max-age must be positive, not {max_age_s:g} seconds.", field="max_age_s"
            )
        with self.db.write() as conn:
            before = conn.execute(select(P).where((P.c.kind == kind) & (P.c.name == name))).first()
            conn.execute(delete(P).where((P.c.kind == kind) & (P.c.name == name)))
            conn.execute(
                P.insert().values(
                    kind=kind,
                    name=name,
                    keep_last=keep_last,
                    max_age_s=max_age_s,
                    updated_at=utcnow(),
                )
            )
            audit(
                conn,
                "retention.set",
                f"retention:/{kind}/{name}",
                None
                if before is None
                else {"keep_last": before.keep_last, "max_age_s": before.max_age_s},
                {"keep_last": keep_last, "max_age_s": max_age_s},
            )
        return Policy(kind, name, keep_last, max_age_s)

    def remove(self, kind: str, name: str) -> None:
        with self.db.write() as conn:
            gone = conn.execute(delete(P).where((P.c.kind == kind) & (P.c.name == name)))
            if not gone.rowcount:
                raise NotFoundError(
                    f"No retention policy for {kind} {name!r}.",
                    hint="List them with `podium retention list`.",
                )
            audit(conn, "retention.remove", f"retention:/{kind}/{name}", None, None)

    def all(self) -> list[Policy]:
        with self.db.read() as conn:
            return [
                Policy(r.kind, r.name, r.keep_last, r.max_age_s)
                for r in conn.execute(select(P).order_by(P.c.kind, P.c.name))
            ]

    # -- what gc reads and deletes -------------------------------------------------------------
    def runs_of(self, pipeline: str) -> list[Any]:
        R = t.runs
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(R.c.id, R.c.status, R.c.created_at)
                    .where(R.c.pipeline == pipeline)
                    .order_by(R.c.created_at.desc(), R.c.id.desc())
                )
            )

    def versions_of(self, model: str) -> list[Any]:
        V, M, A = t.model_versions, t.models, t.aliases
        with self.db.read() as conn:
            aliased = select(A.c.version_id)
            return list(
                conn.execute(
                    select(
                        V.c.id,
                        V.c.version,
                        V.c.created_at,
                        V.c.run_id,
                        V.c.id.in_(aliased).label("aliased"),
                    )
                    .join(M, M.c.id == V.c.model_id)
                    .where(M.c.name == model)
                    .order_by(V.c.version.desc())
                )
            )

    def kept_version_runs(self, deleted_version_ids: set[int]) -> set[str]:
        """Runs that produced a model version which stays (lineage must stay whole)."""
        V = t.model_versions
        with self.db.read() as conn:
            rows = conn.execute(select(V.c.id, V.c.run_id).where(V.c.run_id.is_not(None)))
            return {r.run_id for r in rows if r.id not in deleted_version_ids}

    def referenced_digests(
        self,
        *,
        except_runs: AbstractSet[str] = frozenset(),
        except_versions: AbstractSet[int] = frozenset(),
    ) -> set[str]:
        """Every blob a record points at, leaving out the records about to be deleted."""
        F, A = t.model_flavors, t.artifacts
        with self.db.read() as conn:
            out = set(conn.execute(select(t.data_versions.c.digest)).scalars())
            flavors = conn.execute(select(F.c.version_id, F.c.digest))
            out.update(d for vid, d in flavors if vid not in except_versions)
            refs = conn.execute(
                select(t.model_references.c.version_id, t.model_references.c.digest)
            )
            out.update(d for vid, d in refs if vid not in except_versions)
            artifacts = conn.execute(select(A.c.run_id, A.c.digest))
            out.update(d for rid, d in artifacts if rid not in except_runs)
            return out

    def delete_runs(self, run_ids: list[str]) -> None:
        R = t.runs
        with self.db.write() as conn:
            for run_id in run_ids:
                conn.execute(delete(t.run_inputs).where(t.run_inputs.c.run_id == run_id))
                conn.execute(delete(t.artifacts).where(t.artifacts.c.run_id == run_id))
                conn.execute(delete(t.step_runs).where(t.step_runs.c.run_id == run_id))
                conn.execute(delete(R).where(R.c.id == run_id))
                audit(conn, "run.delete", f"runs:/{run_id}", {"id": run_id}, None)

    def delete_versions(self, model: str, versions: list[tuple[int, int]]) -> None:
        """Delete (version id, number) pairs of ``model``; an aliased one is refused."""
        V = t.model_versions
        with self.db.write() as conn:
            for vid, number in versions:
                if conn.execute(
                    select(t.aliases.c.alias).where(t.aliases.c.version_id == vid)
                ).first():
                    continue  # an alias moved onto it since the plan: keep it
                conn.execute(delete(t.model_flavors).where(t.model_flavors.c.version_id == vid))
                conn.execute(
                    delete(t.model_references).where(t.model_references.c.version_id == vid)
                )
                conn.execute(delete(V).where(V.c.id == vid))
                audit(
                    conn,
                    "model_version.delete",
                    f"models:/{model}/{number}",
                    {"version": number},
                    None,
                )

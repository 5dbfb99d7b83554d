"""The audit log is append-only in the database itself; tokens are stored as hashes, audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from podium.core.errors import ConflictError, InvalidNameError, NotFoundError
from podium.core.records import FlavorRecord
from podium.core.tokens import Role
from podium.store import MetadataStore

FLAVOR = FlavorRecord("python", "a" * 64, 1, {})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory'",
        "UPDATE audit_log SET after = NULL WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 1",
    ],
)
def test_raw_sql_cannot_rewrite_or_erase_audit_records(db_url: str, statement: str) -> None:
    store = MetadataStore(db_url)
    store.models.create_version("churn", flavors=[FLAVOR], alias="champion")
    before = [r.to_dict() for r in store.audit.list()]
    engine = sa.create_engine(store.url)
    with (
        pytest.raises(sa.exc.DBAPIError, match="audit records are append-only"),
        engine.begin() as conn,
    ):
        conn.execute(sa.text(statement))
    with engine.begin() as conn:  # appending still works
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, target) "
                "VALUES (CURRENT_TIMESTAMP, 'me', 'note', 'x')"
            )
        )
    engine.dispose()
    after = [r.to_dict() for r in store.audit.list()]
    assert after[1:] == before and after[0]["action"] == "note"
    store.models.set_alias("churn", "champion", 1)  # podium itself only ever appends
    assert len(store.audit.list()) == len(after) + 1
    store.close()


def test_tokens_are_created_and_revoked_with_an_audit_trail_and_no_secret(db_url: str) -> None:
    store = MetadataStore(db_url)
    made = store.tokens.create("ci", Role.PREDICTOR, "d" * 64, "pod_abcdefgh", None)
    assert (made.name, made.role, made.revoked_at, made.last_used_at) == (
        "ci",
        "predictor",
        None,
        None,
    )
    assert store.tokens.candidates("pod_abcdefgh") == [("d" * 64, made)]
    assert store.tokens.candidates("pod_zzzzzzzz") == []
    revoked = store.tokens.revoke("ci")
    assert revoked.revoked_at is not None
    assert store.tokens.revoke("ci") == revoked  # again: nothing changes, nothing audited
    records = store.audit.list(target="tokens:/ci")
    assert [r.action for r in records] == ["token.revoke", "token.create"]
    assert records[0].before["revoked_at"] is None and records[0].after["revoked_at"]
    assert "d" * 64 not in str([r.to_dict() for r in records])
    with pytest.raises(ConflictError, match="taken by a revoked token"):
        store.tokens.create("ci", Role.ADMIN, "e" * 64, "pod_other123", None)
    with pytest.raises(NotFoundError, match="Known tokens: ci"):
        store.tokens.revoke("cd")
    with pytest.raises(InvalidNameError):
        store.tokens.create("../x", Role.ADMIN, "f" * 64, "pod_x", None)
    store.close()

"""The embedded queue: streams in a SQLite file, no service to run.

One table of messages per file (an autoincrement sequence per message), a cursor per
consumer group, and a table of pending deliveries. Every read that hands out messages is
one ``BEGIN IMMEDIATE`` transaction, so consumers in several processes never get the same
new message, and a stale pending one goes to exactly one of them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from podium.core.errors import ValidationError
from podium.core.names import check_name
from podium.streaming.base import Broker, Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_messages_stream ON messages (stream, seq);
CREATE TABLE IF NOT EXISTS groups (
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (stream, grp)
);
CREATE TABLE IF NOT EXISTS pending (
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    seq INTEGER NOT NULL,
    consumer TEXT NOT NULL,
    delivered_at REAL NOT NULL,
    deliveries INTEGER NOT NULL,
    PRIMARY KEY (stream, grp, seq)
);
"""


class EmbeddedBroker(Broker):
    """Streams in ``path`` (default ``$PODIUM_HOME/queue.db``)."""

    def __init__(self, path: str | Path, *, claim_after_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.claim_after_s = claim_after_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []  # every thread's, to close them all
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # Each thread uses only its own connection; close() may come from another.
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def publish(self, stream: str, payloads: list[bytes]) -> list[str]:
        return self._write(stream, payloads, None)

    def publish_and_ack(
        self, stream: str, payloads: list[bytes], acked: str, group: str, ids: list[str]
    ) -> list[str]:
        return self._write(stream, payloads, (acked, group, ids))  # one transaction

    def _write(
        self, stream: str, payloads: list[bytes], ack: tuple[str, str, list[str]] | None
    ) -> list[str]:
        check_name(stream, "stream name")
        now = time.time()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            ids = [
                str(
                    db.execute(
                        "INSERT INTO messages (stream, data, created_at) VALUES (?, ?, ?)",
                        (stream, bytes(p), now),
                    ).lastrowid
                )
                for p in payloads
            ]
            if ack is not None:
                self._delete_pending(db, *ack)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return ids

    def consume(
        self, stream: str, group: str, consumer: str, count: int, block_s: float = 1.0
    ) -> list[Message]:
        check_name(stream, "stream name")
        check_name(group, "consumer group name")
        if count < 1:
            raise ValidationError("count must be at least 1.", field="count")
        deadline = time.monotonic() + block_s
        while True:
            got = self._take(stream, group, consumer, count)
            if got or time.monotonic() >= deadline:
                return got
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    def _take(self, stream: str, group: str, consumer: str, count: int) -> list[Message]:
        now = time.time()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR IGNORE INTO groups (stream, grp, cursor) VALUES (?, ?, 0)",
                (stream, group),
            )
            stale = db.execute(
                "SELECT p.seq, m.data, p.deliveries FROM pending p JOIN messages m "
                "ON m.seq = p.seq WHERE p.stream = ? AND p.grp = ? AND p.delivered_at < ? "
                "ORDER BY p.seq LIMIT ?",
                (stream, group, now - self.claim_after_s, count),
            ).fetchall()
            out = [Message(str(seq), bytes(data), n + 1) for seq, data, n in stale]
            for seq, _, n in stale:
                db.execute(
                    "UPDATE pending SET consumer = ?, delivered_at = ?, deliveries = ? "
                    "WHERE stream = ? AND grp = ? AND seq = ?",
                    (consumer, now, n + 1, stream, group, seq),
                )
            if len(out) < count:
                (cursor,) = db.execute(
                    "SELECT cursor FROM groups WHERE stream = ? AND grp = ?", (stream, group)
                ).fetchone()
                fresh = db.execute(
                    "SELECT seq, data FROM messages WHERE stream = ? AND seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (stream, cursor, count - len(out)),
                ).fetchall()
                db.executemany(
                    "INSERT INTO pending (stream, grp, seq, consumer, delivered_at, deliveries) "
                    "VALUES (?, ?, ?, ?, ?, 1)",
                    [(stream, group, seq, consumer, now) for seq, _ in fresh],
                )
                if fresh:
                    db.execute(
                        "UPDATE groups SET cursor = ? WHERE stream = ? AND grp = ?",
                        (fresh[-1][0], stream, group),
                    )
                out += [Message(str(seq), bytes(data), 1) for seq, data in fresh]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return out

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._delete_pending(db, stream, group, ids)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _delete_pending(db: sqlite3.Connection, stream: str, group: str, ids: list[str]) -> None:
        db.executemany(
            "DELETE FROM pending WHERE stream = ? AND grp = ? AND seq = ?",
            [(stream, group, int(i)) for i in ids],
        )

    def last(self, stream: str, count: int) -> list[Message]:
        rows = (
            self._db()
            .execute(
                "SELECT seq, data FROM messages WHERE stream = ? ORDER BY seq DESC LIMIT ?",
                (stream, count),
            )
            .fetchall()
        )
        return [Message(str(seq), bytes(data)) for seq, data in reversed(rows)]

    def size(self, stream: str) -> int:
        (n,) = (
            self._db()
            .execute("SELECT COUNT(*) FROM messages WHERE stream = ?", (stream,))
            .fetchone()
        )
        return int(n)

    def lag(self, stream: str, group: str) -> int:
        db = self._db()
        row = db.execute(
            "SELECT cursor FROM groups WHERE stream = ? AND grp = ?", (stream, group)
        ).fetchone()
        cursor = row[0] if row else 0
        (n,) = db.execute(
            "SELECT COUNT(*) FROM messages WHERE stream = ? AND seq > ?", (stream, cursor)
        ).fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            dbs, self._all = self._all, []
        for db in dbs:
            db.close()
        self._local = threading.local()

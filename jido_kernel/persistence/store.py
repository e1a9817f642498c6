"""The SQLite file of one saved session: schema, writes, reads and the size cap.

One file per session id, ``$JIDO_CODE_HOME/sessions/<id>.sqlite3``, in WAL mode with
``synchronous=NORMAL``: a committed transaction survives the process being killed.
Records (messages, reasoning steps, tool calls) are rows keyed by ``(kind, id)`` in the
order they were first written, so two kernels writing the same session at once only
add rows; a message still streaming keeps its text as appended parts, so a crash
mid-stream leaves every part written before it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIX = ".sqlite3"
KINDS = ("message", "reasoning", "tool_call")
BUSY_TIMEOUT_MS = 10_000
MAX_LISTED = 500
"""Saved sessions ``%session saved`` reads at most (newest first)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    size INTEGER NOT NULL,
    UNIQUE(kind, id)
);
CREATE TABLE IF NOT EXISTS stream_parts(
    message_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY(message_id, part)
);
"""


def _write_ahead_log(connection: sqlite3.Connection) -> None:
    """Switch to WAL mode. SQLite answers "database is locked" at once, without waiting,
    while another connection holds the file (two writers opening one session): retry
    until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) a session file in WAL mode, readable and writable by the owner only."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.close(fd)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _write_ahead_log(connection)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(_SCHEMA)
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (taken at once, so concurrent writers wait for each other)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def put_record(connection: sqlite3.Connection, kind: str, data: dict[str, Any]) -> None:
    """Insert or update a record; an update keeps its place in the order."""
    text = json.dumps(data, ensure_ascii=False)
    connection.execute(
        "INSERT INTO records(kind, id, data, size) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(kind, id) DO UPDATE SET data=excluded.data, size=excluded.size",
        (kind, data["id"], text, len(text)),
    )


def append_part(connection: sqlite3.Connection, message_id: str, part: int, text: str) -> None:
    """Add the next piece of a streaming message's text."""
    connection.execute(
        "INSERT OR REPLACE INTO stream_parts(message_id, part, text) VALUES(?, ?, ?)", (message_id, part, text)
    )


def end_parts(connection: sqlite3.Connection, message_id: str) -> None:
    """Drop a finished stream's parts (its final message is a record)."""
    connection.execute("DELETE FROM stream_parts WHERE message_id = ?", (message_id,))


def clear(connection: sqlite3.Connection, kinds: tuple[str, ...]) -> None:
    """Delete every record of ``kinds`` (and, with messages, the stream parts)."""
    connection.executemany("DELETE FROM records WHERE kind = ?", [(kind,) for kind in kinds])
    if "message" in kinds:
        connection.execute("DELETE FROM stream_parts")


def set_meta(connection: sqlite3.Connection, **values: str) -> None:
    """Set session facts (name, project root, todos as JSON, time of the last change)."""
    connection.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", list(values.items()))


def enforce_cap(connection: sqlite3.Connection, max_bytes: int) -> int:
    """Delete the oldest records until the saved text fits ``max_bytes``; returns how many went."""
    total = connection.execute(
        "SELECT (SELECT COALESCE(SUM(size), 0) FROM records) + "
        "(SELECT COALESCE(SUM(LENGTH(text)), 0) FROM stream_parts)"
    ).fetchone()[0]
    dropped = 0
    while total > max_bytes:
        rows = connection.execute("SELECT pos, size FROM records ORDER BY pos LIMIT 100").fetchall()
        if not rows:
            break
        for pos, size in rows:
            connection.execute("DELETE FROM records WHERE pos = ?", (pos,))
            total -= size
            dropped += 1
            if total <= max_bytes:
                break
    return dropped


@dataclass(frozen=True)
class Saved:
    """Everything saved for one session: facts and records in their order."""

    session_id: str
    meta: dict[str, str]
    records: dict[str, list[dict[str, Any]]]

    @property
    def todos(self) -> list[dict[str, Any]]:
        return list(json.loads(self.meta.get("todos", "[]")))

    def counts(self) -> dict[str, int]:
        return {kind: len(items) for kind, items in self.records.items()}


def load(path: Path) -> Saved:
    """Read a session file; a message that was still streaming comes back interrupted,
    with the text written before the end."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as connection:
        connection.execute("BEGIN")  # one snapshot for every table
        meta = dict(connection.execute("SELECT key, value FROM meta"))
        records: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for kind, data in connection.execute("SELECT kind, data FROM records ORDER BY pos"):
            if kind in records:
                records[kind].append(json.loads(data))
        parts: dict[str, list[str]] = {}
        for message_id, text in connection.execute(
            "SELECT message_id, text FROM stream_parts ORDER BY message_id, part"
        ):
            parts.setdefault(message_id, []).append(text)
    for message in records["message"]:
        if message.pop("streaming", False):
            message["content"] = "".join(parts.get(message["id"], ()))
            message["interrupted"] = True
    return Saved(path.name.removesuffix(SUFFIX), meta, records)


@dataclass(frozen=True)
class SavedSummary:
    """One row of ``%session saved``."""

    session_id: str
    name: str
    project_root: str
    counts: dict[str, int]
    updated: float


def summaries(directory: Path) -> list[SavedSummary]:
    """The saved sessions in ``directory``, most recently changed first."""
    rows = []
    for path in files(directory)[:MAX_LISTED]:
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as connection:
                meta = dict(connection.execute("SELECT key, value FROM meta"))
                counts = dict.fromkeys(KINDS, 0)
                counts.update(connection.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind"))
        except sqlite3.Error:
            continue
        updated = float(meta.get("updated", path.stat().st_mtime))
        rows.append(
            SavedSummary(
                path.name.removesuffix(SUFFIX), meta.get("name", ""), meta.get("project_root", ""), counts, updated
            )
        )
    return sorted(rows, key=lambda row: row.updated, reverse=True)


def files(directory: Path) -> list[Path]:
    """Session files in ``directory``, most recently modified first."""
    try:
        found = [entry for entry in directory.iterdir() if entry.name.endswith(SUFFIX) and entry.is_file()]
    except OSError:
        return []
    return sorted(found, key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    newest = 0.0
    for suffix in ("", "-wal"):
        with suppress(OSError):
            newest = max(newest, os.stat(f"{path}{suffix}").st_mtime)
    return newest


def remove(path: Path) -> None:
    """Delete a session file with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def sweep(directory: Path, retention_days: float, keep: str = "") -> int:
    """Delete session files unchanged for ``retention_days`` (never ``keep``); returns how many."""
    limit = time.time() - retention_days * 86400
    removed = 0
    for path in files(directory):
        if path.name != keep and _mtime(path) < limit:
            remove(path)
            removed += 1
    return removed

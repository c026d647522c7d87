"""A durable SQLite record of submissions, so no character ID is lost and none is paid twice.

Every remote step is bracketed by ledger writes in their own committed transactions: the state
*before* the step says what may have happened if the process dies during it, the state *after*
records what did. SQLite in WAL mode with ``synchronous=FULL`` keeps committed rows across a
``kill -9`` (and a power cut).

States of a submission:

===========  ==========================================================================
uploading    the clip is being uploaded (safe to redo: uploads cost nothing)
uploaded     ``upload_url`` is known; the create request has not been sent
creating     the create request is being sent: if this is the last state, its outcome is
             unknown (the service may have created the character)
pending      the service accepted it: ``prediction_id`` is known, the result is awaited
completed    ``character_id`` is known
failed       the service said no (``error``); a new submission may be tried
unknown      the create request's answer was lost (timeout, reset): never re-sent without
             ``--force``
===========  ==========================================================================
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    clip_sha256 TEXT NOT NULL,
    clip_path TEXT NOT NULL,  -- the file sent (the prepared one when prepare ran)
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    api_base TEXT NOT NULL,
    status TEXT NOT NULL,
    upload_url TEXT,
    prediction_id TEXT,
    character_id TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_key ON submissions (clip_sha256, name, provider);
"""

UPDATABLE = {"status", "upload_url", "prediction_id", "character_id", "error", "clip_path"}


@dataclass(frozen=True)
class Submission:
    """One row of the ledger."""

    id: int
    clip_sha256: str
    clip_path: str
    name: str
    provider: str
    api_base: str
    status: str
    upload_url: str | None
    prediction_id: str | None
    character_id: str | None
    error: str | None
    created_at: float
    updated_at: float

    def to_dict(self) -> dict:
        """JSON-ready data (timestamps as Unix seconds)."""
        return asdict(self)


def default_ledger_path() -> Path:
    """``$CLIPPREP_LEDGER``, else ``characters.sqlite3`` in the user data folder."""
    from_env = os.environ.get("CLIPPREP_LEDGER")
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("clipprep")) / "characters.sqlite3"


class Ledger:
    """The submissions file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_ledger_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open every transaction ourselves (BEGIN IMMEDIATE), so a
        # write never waits inside an implicit transaction another process also wants.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

    def _write(self, sql: str, params: tuple) -> int:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return cursor.lastrowid

    def start(
        self,
        *,
        clip_sha256: str,
        clip_path: str,
        name: str,
        provider: str,
        api_base: str,
        status: str,
        upload_url: str | None = None,
    ) -> Submission:
        """Record a new submission (committed before any remote step)."""
        now = time.time()
        row_id = self._write(
            "INSERT INTO submissions (clip_sha256, clip_path, name, provider, api_base, status,"
            " upload_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (clip_sha256, clip_path, name, provider, api_base, status, upload_url, now, now),
        )
        return self.get(row_id)

    def update(self, submission: Submission, **changes) -> Submission:
        """Change some fields of a submission (committed at once) and return the new row."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        columns = ", ".join(f"{key} = ?" for key in changes)
        self._write(
            f"UPDATE submissions SET {columns}, updated_at = ? WHERE id = ?",
            (*changes.values(), time.time(), submission.id),
        )
        return self.get(submission.id)

    def get(self, row_id: int) -> Submission:
        """The submission with this ledger id (KeyError if none)."""
        row = self._db.execute("SELECT * FROM submissions WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise KeyError(row_id)
        return Submission(**dict(row))

    def latest(self, clip_sha256: str, name: str, provider: str) -> Submission | None:
        """The most recent submission of this clip under this name to this provider."""
        row = self._db.execute(
            "SELECT * FROM submissions WHERE clip_sha256 = ? AND name = ? AND provider = ?"
            " ORDER BY id DESC LIMIT 1",
            (clip_sha256, name, provider),
        ).fetchone()
        return Submission(**dict(row)) if row else None

    def all(self) -> list[Submission]:
        """Every submission, newest first."""
        rows = self._db.execute("SELECT * FROM submissions ORDER BY id DESC").fetchall()
        return [Submission(**dict(row)) for row in rows]

    def find(self, key: str) -> Submission | None:
        """A submission by ledger id, character id or prediction id."""
        if key.isdigit():
            try:
                return self.get(int(key))
            except KeyError:
                return None
        row = self._db.execute(
            "SELECT * FROM submissions WHERE character_id = ? OR prediction_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (key, key),
        ).fetchone()
        return Submission(**dict(row)) if row else None

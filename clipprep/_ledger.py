"""A durable SQLite record of submissions, so no character ID is lost and none is paid twice.

Every remote step is bracketed by ledger writes in their own committed transactions: the state
*before* the step says what may have happened if the process dies during it, the state *after*
records what did. SQLite in WAL mode with ``synchronous=FULL`` keeps committed rows across a
``kill -9`` (and a power cut).

Exactly once across processes: a submission of one (clip sha256, name, provider) is *claimed*
in one ``BEGIN IMMEDIATE`` transaction before anything else happens (see :meth:`Ledger.claim`).
The claim records the owner (process id, its start time, host); a partial unique index allows
one owned row per key, so two processes can never both hold it. A claim whose process is gone
(the pid no longer runs, or runs a process started at another time) is stale and is taken over.

States of a submission:

===========  ==========================================================================
claimed      a process owns it and is checking/preparing the clip: nothing was sent yet
uploading    the clip is being uploaded (safe to redo: uploads cost nothing)
uploaded     ``upload_url`` is known; the create request has not been sent
creating     the create request is being sent: if this is the last state, its outcome is
             unknown (the service may have created the character)
pending      the service accepted it: ``prediction_id`` is known, the result is awaited
completed    ``character_id`` is known
failed       the service said no, or could not be reached before the create (``error``); a
             new submission may be tried
unknown      the create request's answer was lost (timeout, reset): never re-sent without
             ``--force``
===========  ==========================================================================

The file is created 0600 (its folder 0700 when clipprep creates it); ``PRAGMA user_version``
holds :data:`SCHEMA_VERSION`, older ledgers are migrated on first write access, newer ones
refused. Every SQLite failure becomes a :class:`~clipprep._errors.LedgerError` with a code
(``ledger_unreadable``, ``ledger_read_only``, ``ledger_write_failed``, ``ledger_version``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ._errors import LedgerError

# How long opening the ledger waits for another process's lock (SQLite's busy timeout too).
_OPEN_WAIT_S = 30.0

SCHEMA_VERSION = 2

_TABLE = """
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
# Version 2: who owns a submission in progress; at most one owner per key.
_OWNER_COLUMNS = (("owner_pid", "INTEGER"), ("owner_started", "REAL"), ("owner_host", "TEXT"))
_CLAIM_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS submissions_claim ON submissions "
    "(clip_sha256, name, provider) WHERE owner_pid IS NOT NULL"
)

UPDATABLE = {"status", "upload_url", "prediction_id", "character_id", "error", "clip_path"}
# Statuses a later run continues from (a failed or completed submission is finished).
RESUMABLE = {"claimed", "uploading", "uploaded", "creating", "pending", "unknown"}


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
    owner_pid: int | None = None  # the process working on it now (None: nobody)
    owner_started: float | None = None
    owner_host: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready data (timestamps as Unix seconds)."""
        return asdict(self)


@dataclass(frozen=True)
class Owner:
    """A process, identified so that a recycled pid is not mistaken for it."""

    pid: int
    started: float | None
    host: str

    @classmethod
    def me(cls) -> Owner:
        """This process."""
        return cls(os.getpid(), process_started(os.getpid()), socket.gethostname())

    def is_alive(self) -> bool:
        """True unless this process has certainly ended (on another host: assumed alive)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # it exists, it is someone else's
            pass
        now = process_started(self.pid)
        return self.started is None or now is None or now == self.started


def process_started(pid: int) -> float | None:
    """When process ``pid`` started, in a unit stable for its lifetime (None when unknown)."""
    try:  # Linux: field 22 of /proc/PID/stat, clock ticks since boot
        text = Path(f"/proc/{pid}/stat").read_text()
        return float(text.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


@dataclass(frozen=True)
class Claim:
    """What :meth:`Ledger.claim` found: ``state`` is ``new`` (a fresh row, ours), ``resume``
    (an unfinished row, now ours), ``done`` (completed: nothing to do) or ``busy`` (a live
    process owns it: ``submission.owner_pid``)."""

    state: str
    submission: Submission


def default_ledger_path() -> Path:
    """``$CLIPPREP_LEDGER``, else ``characters.sqlite3`` in the user data folder."""
    from_env = os.environ.get("CLIPPREP_LEDGER")
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("clipprep")) / "characters.sqlite3"


class Ledger:
    """The submissions file. Use as a context manager, or call :meth:`close`.

    ``read_only``: never create or change anything (``characters list/show``); a ledger that
    does not exist reads as empty. Otherwise a ledger that exists but cannot be written is
    opened read-only: answering from it works, the first write raises ``ledger_read_only``.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False):
        self.path = Path(path) if path is not None else default_ledger_path()
        self.writable = False
        self._db: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise self._error("ledger_unreadable", "is a folder", "pass a file path")
        if self.path.exists() and not self.path.is_file():  # a FIFO would block SQLite forever
            raise self._error("ledger_unreadable", "is not a regular file", "pass a file path")
        if read_only or not self._create_file():
            if self.path.exists() or not read_only:
                self._db = self._open_read_only()
        else:
            self._db = self._open_writable()
        if self._db is not None:
            self._db.row_factory = sqlite3.Row
            self._prepare_schema()

    # --- opening ------------------------------------------------------------------------------

    def _create_file(self) -> bool:
        """Make sure the file exists, private; False when it cannot be written."""
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(mode=0o700, parents=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                # A ledger an older clipprep made 0644: it holds ids and URLs, keep it private.
                st = os.fstat(fd)
                if st.st_mode & 0o077 and st.st_uid == os.geteuid():
                    os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            return True
        except OSError as exc:
            if self.path.is_file():
                return False  # readable perhaps: answering from it may still work
            raise self._error(
                "ledger_read_only",
                f"cannot be created ({exc.strerror})",
                "choose a writable place with --ledger or CLIPPREP_LEDGER",
            ) from None

    def _open_writable(self) -> sqlite3.Connection:
        # isolation_level=None: we open every transaction ourselves (BEGIN IMMEDIATE), so a
        # write never waits inside an implicit transaction another process also wants.
        deadline = time.monotonic() + _OPEN_WAIT_S
        with self._guard():
            while True:
                db = sqlite3.connect(self.path, isolation_level=None, timeout=_OPEN_WAIT_S)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=FULL")
                    break
                except sqlite3.OperationalError as exc:
                    db.close()
                    if "readonly" in str(exc) or "read-only" in str(exc):
                        return self._open_read_only()
                    # Switching a new file to WAL, or opening while the last other connection
                    # checkpoints on close, can say "locked" at once, without the busy wait.
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        self.writable = True
        return db

    def _open_read_only(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        last: sqlite3.Error | None = None
        # mode=ro needs the WAL index (-shm) to be creatable; immutable=1 reads the file alone
        # (a folder we cannot write to), which is right for a ledger nobody can change either.
        for query in ("mode=ro", "immutable=1"):
            try:
                db = sqlite3.connect(
                    f"{uri}?{query}", uri=True, isolation_level=None, timeout=_OPEN_WAIT_S
                )
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.DatabaseError as exc:
                last = exc
                with contextlib.suppress(NameError, sqlite3.Error):
                    db.close()
        raise self._translate(last)

    def _prepare_schema(self) -> None:
        with self._guard():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise self._error(
                    "ledger_version",
                    f"was written by a newer clipprep (schema {version}, this one knows "
                    f"{SCHEMA_VERSION})",
                    "upgrade clipprep, or use another --ledger",
                )
            tables = {
                r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if version == SCHEMA_VERSION and "submissions" in tables:
                self._check_columns()
                return
            if tables - {"submissions", "sqlite_sequence"}:  # another application's database
                raise self._error(
                    "ledger_unreadable",
                    "is an SQLite file, but not a clipprep ledger",
                    "point --ledger at a ledger, or at a new file",
                )
            if not self.writable:
                if "submissions" not in tables:
                    return  # an empty file: reads as no submissions
                self._check_columns(required_only=True)
                return
            self._migrate()

    def _migrate(self) -> None:
        """Create the tables, or bring a version-1 ledger (no owner columns) up to date: every
        older version (0 = none or the first layout) takes the same steps."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _TABLE.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            present = self._columns()
            for column, kind in _OWNER_COLUMNS:
                if column not in present:
                    self._db.execute(f"ALTER TABLE submissions ADD COLUMN {column} {kind}")
            self._db.execute(_CLAIM_INDEX)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _columns(self) -> set[str]:
        return {r[1] for r in self._db.execute("PRAGMA table_info(submissions)")}

    def _check_columns(self, required_only: bool = False) -> None:
        wanted = {f for f in Submission.__dataclass_fields__ if not f.startswith("owner_")}
        if not required_only:
            wanted |= {column for column, _ in _OWNER_COLUMNS}
        missing = wanted - self._columns()
        if missing:
            raise self._error(
                "ledger_unreadable",
                f"has a submissions table without {', '.join(sorted(missing))}",
                "point --ledger at a ledger, or at a new file",
            )

    # --- errors -------------------------------------------------------------------------------

    def _error(self, code: str, what: str, hint: str) -> LedgerError:
        return LedgerError(f"the ledger {self.path} {what}", code=code, hint=hint)

    def _translate(self, exc: BaseException | None) -> LedgerError:
        text = str(exc).lower()
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return self._error(
                "ledger_unreadable",
                f"is damaged or not a ledger ({exc})",
                "move it aside (keep it: it may hold character ids) and run again",
            )
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return self._error(
                "ledger_read_only",
                f"cannot be written ({exc})",
                "check the file's and its folder's permissions, or use another --ledger",
            )
        if "locked" in text or "busy" in text:
            return self._error(
                "ledger_busy",
                f"stayed locked by another process ({exc})",
                "run the same command again",
            )
        return self._error(
            "ledger_write_failed",
            f"could not be read or written ({exc})",
            "free disk space (or fix the disk) and run the same command again",
        )

    @contextlib.contextmanager
    def _guard(self):
        try:
            yield
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    # --- use ----------------------------------------------------------------------------------

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database file."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    def _rows(self, sql: str, params: tuple = ()) -> list[Submission]:
        if self._db is None:
            return []
        with self._guard():
            try:
                rows = self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []  # an empty, read-only file
                raise
        return [Submission(**dict(row)) for row in rows]

    @contextlib.contextmanager
    def _transaction(self):
        """One committed write transaction (BEGIN IMMEDIATE takes the write lock at once)."""
        if not self.writable:
            raise self._error(
                "ledger_read_only",
                "cannot be written",
                "check the file's and its folder's permissions, or use another --ledger",
            )
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full) may already have rolled back.
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise

    def claim(
        self,
        *,
        clip_sha256: str,
        clip_path: str,
        name: str,
        provider: str,
        api_base: str,
        owner: Owner,
        force: bool = False,
    ) -> Claim:
        """Take the submission of this key for ``owner``, atomically (see the module docstring).

        ``force``: start a new submission even when one is completed or unknown (never while a
        live process owns one).
        """
        key = (clip_sha256, name, provider)
        with self._transaction() as db:
            held = self._one(
                db,
                "WHERE clip_sha256 = ? AND name = ? AND provider = ? AND owner_pid IS NOT NULL",
                key,
            )
            if held is not None and not _same(held, owner):
                if owner_of(held).is_alive():
                    return Claim("busy", held)
                self._set_owner(db, held.id, None)  # stale: its process is gone
            latest = self._one(
                db, "WHERE clip_sha256 = ? AND name = ? AND provider = ? ORDER BY id DESC", key
            )
            if latest is not None and not force:
                if latest.status == "completed":
                    return Claim("done", latest)
                if latest.status in RESUMABLE:
                    self._set_owner(db, latest.id, owner)
                    return Claim("resume", self._one(db, "WHERE id = ?", (latest.id,)))
            now = time.time()
            cursor = db.execute(
                "INSERT INTO submissions (clip_sha256, clip_path, name, provider, api_base,"
                " status, created_at, updated_at, owner_pid, owner_started, owner_host)"
                " VALUES (?, ?, ?, ?, ?, 'claimed', ?, ?, ?, ?, ?)",
                (clip_sha256, clip_path, name, provider, api_base, now, now, *_owner_values(owner)),
            )
            return Claim("new", self._one(db, "WHERE id = ?", (cursor.lastrowid,)))

    def release(self, submission: Submission, owner: Owner) -> None:
        """Give up ownership (the row keeps its status for whoever comes next)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE submissions SET owner_pid = NULL, owner_started = NULL, owner_host = NULL"
                " WHERE id = ? AND owner_pid = ? AND owner_host = ?",
                (submission.id, owner.pid, owner.host),
            )

    def discard(self, submission: Submission) -> None:
        """Forget a claim that never sent anything (the clip was refused before upload)."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM submissions WHERE id = ? AND status = 'claimed'", (submission.id,)
            )

    def _set_owner(self, db, row_id: int, owner: Owner | None) -> None:
        values = _owner_values(owner) if owner else (None, None, None)
        db.execute(
            "UPDATE submissions SET owner_pid = ?, owner_started = ?, owner_host = ? WHERE id = ?",
            (*values, row_id),
        )

    @staticmethod
    def _one(db, where: str, params: tuple) -> Submission | None:
        row = db.execute(f"SELECT * FROM submissions {where} LIMIT 1", params).fetchone()
        return Submission(**dict(row)) if row else None

    def update(self, submission: Submission, **changes) -> Submission:
        """Change some fields of a submission (committed at once) and return the new row."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        columns = ", ".join(f"{key} = ?" for key in changes)
        with self._transaction() as db:
            db.execute(
                f"UPDATE submissions SET {columns}, updated_at = ? WHERE id = ?",
                (*changes.values(), time.time(), submission.id),
            )
        return self.get(submission.id)

    def get(self, row_id: int) -> Submission:
        """The submission with this ledger id (KeyError if none)."""
        rows = self._rows("SELECT * FROM submissions WHERE id = ?", (row_id,))
        if not rows:
            raise KeyError(row_id)
        return rows[0]

    def latest(self, clip_sha256: str, name: str, provider: str) -> Submission | None:
        """The most recent submission of this clip under this name to this provider."""
        rows = self._rows(
            "SELECT * FROM submissions WHERE clip_sha256 = ? AND name = ? AND provider = ?"
            " ORDER BY id DESC LIMIT 1",
            (clip_sha256, name, provider),
        )
        return rows[0] if rows else None

    def all(self) -> list[Submission]:
        """Every submission, newest first."""
        return self._rows("SELECT * FROM submissions ORDER BY id DESC")

    def find(self, key: str) -> Submission | None:
        """A submission by ledger id, character id or prediction id."""
        if key.isdigit():
            try:
                return self.get(int(key))
            except KeyError:
                return None
        rows = self._rows(
            "SELECT * FROM submissions WHERE character_id = ? OR prediction_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (key, key),
        )
        return rows[0] if rows else None


def owner_of(row: Submission) -> Owner:
    """The process a row names as working on it."""
    return Owner(row.owner_pid, row.owner_started, row.owner_host or "")


def _same(row: Submission, owner: Owner) -> bool:
    return row.owner_pid == owner.pid and row.owner_host == owner.host


def _owner_values(owner: Owner) -> tuple:
    return (owner.pid, owner.started, owner.host)

"""Engine, connections and transactions: what every domain of the store builds on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Table, create_engine, event, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..errors import DatabaseBusy, StorageError
from ._plain import SCHEMA_VERSION
from ._schema import meta, migrate


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def insert_ignoring_duplicates(conn: Connection, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL, a plain insert elsewhere."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return table.insert()


def now_utc() -> datetime:
    return datetime.now(UTC)


# How long a SQLite write waits for another process's write lock, unless the URL says
# (``sqlite:///news.db?timeout=30``); sqlite3 retries within it, then gives up.
LOCK_WAIT_SECONDS = 10.0


def _sqlite_failure(exc: OperationalError, path: str, wait: float) -> StorageError | None:
    """One line for the SQLite failures an operator can act on, or None for the rest."""
    text = str(exc.orig).lower()
    if "locked" in text or "busy" in text:
        return DatabaseBusy(
            f"database {path} is locked by another process: gave up after waiting {wait:g} s"
        )
    # On a full disk SQLite says "disk I/O error" when it cannot grow its shared-memory
    # file, "database or disk is full" when it cannot grow the database or its WAL.
    if "full" in text or ("disk i/o" in text and _no_space_left(path)):
        return StorageError(f"database {path} is full (no space left on its disk)")
    if "readonly" in text or "read-only" in text:
        return StorageError(f"database {path} is read-only")
    if "disk i/o" in text:
        return StorageError(f"database {path}: disk I/O error")
    return None


def _no_space_left(path: str) -> bool:
    try:
        return os.statvfs(Path(path).parent).f_bavail == 0
    except OSError:
        return False


class StoreBase:
    """The engine and its transactions; the domain mixins add the queries."""

    def __init__(self, engine: Engine, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
        self.engine = engine
        self.lock_wait = lock_wait
        self._rate_rows: set[str] = set()
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._sqlite_path = database if database and database != ":memory:" else None

    @classmethod
    def open(cls, url: str) -> Self:
        """Open (creating or migrating as needed) the database at a SQLAlchemy URL."""
        try:
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            options: dict[str, Any] = {}
            if url.startswith("postgresql+psycopg"):
                # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a
                # generic plan made while the tables were empty (a sequential scan) as they
                # grow to thousands of rows; plan each statement for the data it meets.
                options["connect_args"] = {"prepare_threshold": None}
            wait = LOCK_WAIT_SECONDS
            if url.startswith("sqlite:"):
                given = make_url(url).query.get("timeout")
                wait = float(given if isinstance(given, str) else LOCK_WAIT_SECONDS)
                # sqlite3's own busy handler: it retries the lock until ``timeout``.
                options["connect_args"] = {"timeout": wait}
            engine = create_engine(url, future=True, **options)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine, wait)
            store._migrate()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open database {redact(url)}: {exc}") from exc
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._explained(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _explained(self) -> Iterator[None]:
        """SQLite's lock timeouts and full disks as one-line :class:`StorageError`s."""
        try:
            yield
        except OperationalError as exc:
            if self._sqlite_path is None:
                raise
            failure = _sqlite_failure(exc, self._sqlite_path, self.lock_wait)
            if failure is None:
                raise
            raise failure from exc

    @contextmanager
    def _write_tx(self) -> Iterator[Connection]:
        """A transaction that takes the write lock up front on SQLite (``BEGIN IMMEDIATE``).

        SQLite has one writer at a time; taking the lock first serializes read-then-write
        steps (leasing, migrating) across processes instead of failing them midway with
        "database is locked" when a read snapshot cannot be upgraded. On PostgreSQL this is
        an ordinary transaction (row locks do the work there).
        """
        with self._explained(), self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                # pysqlite leaves BEGIN to us here: it only begins implicitly before DML.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # -- schema -----------------------------------------------------------------------
    def _migrate(self) -> None:
        # Only a database that needs it takes the write lock: a read-only command must not
        # wait for (or fail on) another process that is writing.
        if self._schema_current():
            return
        with self._write_tx() as conn:
            migrate(conn)

    def _schema_current(self) -> bool:
        try:
            with self.engine.connect() as conn:
                found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
                row = found.first()
        except SQLAlchemyError:  # no meta table yet: a new database
            return False
        return row is not None and str(row[0]) == str(SCHEMA_VERSION)

    def describe(self) -> str:
        """Engine and URL (password hidden), for ``newsletter doctor``."""
        return f"{self.engine.dialect.name} at {redact(str(self.engine.url))}"

    def schema_version(self) -> int:
        with self._tx() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
            return int(value.scalar_one())

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    # -- daemon state -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._tx() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            done = conn.execute(update(meta).where(meta.c.key == key).values(value=value))
            if done.rowcount == 0:
                conn.execute(meta.insert().values(key=key, value=value))


def redact(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL we cannot even parse has nothing worth showing
        return "<database url>"

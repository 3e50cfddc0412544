"""Engine, connections and transactions: what every domain of the store builds on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Table, create_engine, event, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StorageError
from ._schema import meta, migrate


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
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


class StoreBase:
    """The engine and its transactions; the domain mixins add the queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rate_rows: set[str] = set()

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
            engine = create_engine(url, future=True, **options)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine)
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
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write_tx(self) -> Iterator[Connection]:
        """A transaction that takes the write lock up front on SQLite (``BEGIN IMMEDIATE``).

        SQLite has one writer at a time; taking the lock first serializes read-then-write
        steps (leasing, migrating) across processes instead of failing them midway with
        "database is locked" when a read snapshot cannot be upgraded. On PostgreSQL this is
        an ordinary transaction (row locks do the work there).
        """
        with self.engine.connect() as conn:
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
        with self._write_tx() as conn:
            migrate(conn)

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

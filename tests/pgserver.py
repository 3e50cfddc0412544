"""A throwaway PostgreSQL server for tests and benchmarks (Debian's server binaries).

``initdb`` into a temp dir, ``pg_ctl start`` on a free loopback port with its socket in that
dir, trust auth, durability off (the data dies with the run anyway). Root cannot run the
server, so as root everything runs as the ``postgres`` user through ``runuser``.

    with ThrowawayPostgres() as pg:
        url = pg.create_database("t1")  # postgresql+psycopg://postgres@127.0.0.1:PORT/t1

Also usable from the shell (``.ci/run``)::

    python -m tests.pgserver start DIR   # prints the URL of the ``postgres`` database
    python -m tests.pgserver stop DIR

No pytest imports here, so benchmark scripts can use it too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PostgresUnavailable(RuntimeError):
    """No server binaries, or the server would not start; the message says which."""


def _binary(name: str) -> str:
    for folder in BIN_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise PostgresUnavailable(
            f"PostgreSQL server binary {name!r} not found (apt-get install postgresql)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """One server in one directory; ``stop()`` (or leaving the ``with``) deletes it all."""

    def __init__(self, directory: Path | None = None, port: int | None = None) -> None:
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="newsletter-pg-"))
        self.port = port or _free_port()
        self._as_postgres = os.geteuid() == 0

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(args[:2])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-600:]}"
            )
        return done

    def start(self) -> ThrowawayPostgres:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "--no-instructions")  # fmt: skip
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.dir}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "-t", "30", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        if self.data.is_dir():
            with contextlib.suppress(PostgresUnavailable):
                self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def drop_database(server_url: str, name: str) -> None:
    """Drop a database even if a killed test process left connections to it."""
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(server_url: str, name: str) -> str:
    """A new database on the server at ``server_url``; returns the new database's URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.pgserver start|stop DIR", file=sys.stderr)
        return 2
    action, directory = argv[0], Path(argv[1])
    if action == "start":
        try:
            server = ThrowawayPostgres(directory).start()
        except PostgresUnavailable as exc:
            print(f"PostgreSQL not started: {exc}", file=sys.stderr)
            return 1
        print(server.url())
    else:
        ThrowawayPostgres(directory).stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

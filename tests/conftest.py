"""Shared fixtures: real loopback servers and paths to test data."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import FeedServer, OpenAIServer
from tests.smtp import SMTPServer

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[FeedServer]:
    """A FeedServer on 127.0.0.1 serving files from its own temp dir (``server.root``)."""
    root = tmp_path / "feeds"
    root.mkdir()
    with FeedServer(root) as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """An OpenAI chat-completions server; use ``base_url=openai_server.base_url``."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared read-only corpus at ``../shared/corpus``; skips when it is absent."""
    if not (CORPUS_DIR / "README.md").is_file():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR} (it lives outside the repo)")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def demo_feeds_dir() -> Path:
    """The bundled offline demo feeds, ``examples/feeds``."""
    return REPO_ROOT / "examples" / "feeds"


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives."""
    with SMTPServer() as server:
        yield server


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """CLI commands point the root logger at the runner's stream; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# Modules whose tests run daemons, workers and CLI processes against leases, locks and
# deadlines: under pytest-xdist one worker runs them one after another, as a serial run would,
# so two of them never compete for CI's two cores; the rest of the suite runs beside them
# (together they take about half of the suite's time, so the two workers end near each other).
PROCESS_MODULES = frozenset(
    {"test_daemon", "test_faults_integrity", "test_faults_storage", "test_llm_stop", "test_scale"}
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests for ``--dist loadgroup``: everything else is isolated (own ports, temp
    dirs, PostgreSQL database, IMAP mailbox) and may run on any worker."""
    for item in items:
        if item.path.stem in PROCESS_MODULES:
            item.add_marker(pytest.mark.xdist_group("processes"))


# -- databases: every storage test runs on SQLite and on PostgreSQL -----------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server URL: ``$NEWSLETTER_TEST_PG_URL`` (``.ci/run`` starts one), else a
    throwaway server started here; skips with the reason when neither is possible."""
    import os

    from tests.pgserver import PostgresUnavailable, ThrowawayPostgres

    url = os.environ.get("NEWSLETTER_TEST_PG_URL")
    if url:
        yield url
        return
    try:
        server = ThrowawayPostgres().start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests need a server: {exc}")
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    import uuid

    from tests.pgserver import create_database, drop_database

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server, name)
    try:
        yield url
    finally:
        drop_database(pg_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once per engine: SQLite file in tmp_path, or a new PG database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'news.db'}"
    return str(request.getfixturevalue("pg_url"))


# -- a real IMAP/POP3 server for the bounce mailbox ------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Any]:
    """A Dovecot on loopback (``.ci/run`` starts one and sets ``$NEWSLETTER_TEST_IMAP``), else
    one started here; skips with the reason when neither is possible."""
    import os

    from tests.imapserver import DovecotUnavailable, ThrowawayDovecot

    spec = os.environ.get("NEWSLETTER_TEST_IMAP")
    if spec:
        host, imaps, pop3s, _user, _password, cafile = spec.split(":", 5)
        server = ThrowawayDovecot(Path(cafile).parent)
        server.imaps_port, server.pop3s_port = int(imaps), int(pop3s)
        yield server
        return
    try:
        server = ThrowawayDovecot().start()
    except DovecotUnavailable as exc:
        pytest.skip(f"bounce-mailbox tests need an IMAP server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_box(dovecot: Any) -> Any:
    """A mailbox of this test's own on the shared Dovecot: nothing another test (or an earlier
    run against the same server) delivered, moved or flagged can show up in it; a shared INBOX
    emptied between tests did, in CI."""
    import uuid

    return dovecot.mailbox(f"t{uuid.uuid4().hex}")

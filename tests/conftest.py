"""Shared fixtures: real loopback servers and paths to test data."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

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

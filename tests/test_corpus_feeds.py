"""Every real and ill-formed feed in the shared corpus, served over loopback HTTP and polled:
nothing escapes, each feed ends ok or with a one-line reason, and the CLI run exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from newsletter.config import Config
from newsletter.flows.poll import poll
from newsletter.store import Store
from tests.servers import FeedServer, loopback_fetch

REPO = Path(__file__).resolve().parents[1]


def corpus_urls(server: FeedServer, feeds_dir: Path) -> list[str]:
    files = sorted(p for p in feeds_dir.rglob("*") if p.is_file())
    assert len(files) > 80, f"expected the whole corpus under {feeds_dir}"
    return [server.url("/" + p.relative_to(feeds_dir).as_posix()) for p in files]


def test_every_corpus_feed_ends_ok_or_with_a_one_line_reason(
    corpus_dir: Path, tmp_path: Path
) -> None:
    feeds_dir = corpus_dir / "feeds"
    with FeedServer(feeds_dir) as server:
        urls = corpus_urls(server, feeds_dir)
        config = Config.model_validate(
            {
                "database": f"sqlite:///{tmp_path / 'news.db'}",
                "output_dir": str(tmp_path / "out"),
                "feeds": [{"url": u} for u in urls],
                "fetch": loopback_fetch(timeout=10),
            }
        )
        store = Store.open(config.database)
        report = poll(config, store)  # must not raise
        assert len(report.outcomes) == len(urls)
        for outcome in report.outcomes:
            assert outcome.status in ("ok", "error"), outcome
            if outcome.status == "error":
                reason = outcome.error or ""
                assert reason and "\n" not in reason and len(reason) <= 300, outcome
        # The real feeds are feeds: nearly all of them must parse and store entries.
        # SOURCES.md: four of the real/ files are what sites served instead of a feed.
        real = [o for o in report.outcomes if "/real/" in o.url]
        real_failed = [o for o in real if o.status != "ok"]
        assert len(real_failed) <= 4, real_failed
        assert sum(1 for o in real_failed if "HTML page" in (o.error or "")) == 3, real_failed
        assert store.entry_count() > 300
        health = {h.url: h for h in store.feed_health()}
        assert all(health[o.url].last_status == o.status for o in report.outcomes)
        store.close()

        # The same corpus through the command line, as an operator would run it.
        config_file = tmp_path / "corpus.yaml"
        config_file.write_text(
            json.dumps(
                {
                    "database": f"sqlite:///{tmp_path / 'cli.db'}",
                    "output_dir": str(tmp_path / "cli-out"),
                    "feeds": urls,
                    "fetch": loopback_fetch(timeout=10),
                }
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [sys.executable, "-m", "newsletter", "poll", "-c", str(config_file)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    assert "Traceback" not in done.stderr
    assert "feeds failed" in done.stdout

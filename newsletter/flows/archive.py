"""The archive on disk: issue pages, ``output/index.html`` and the newsletter's Atom feed."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from ..config import Config
from ..models import Issue
from ..render import FeedEntry, Renderer, WebRenderer
from ..store import Store


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write through a temp file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            # mkstemp makes 0600 files; the archive must be readable by a static web server.
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:
            # A failed write() names no file: name the one we were writing (a full disk).
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def renderer(config: Config) -> Renderer:
    return Renderer(
        config.templates_dir,
        timezone=config.timezone,
        language=config.language,
        list_title=config.title,
        contact=config.email.contact,
    )


def write_issue(config: Config, store: Store, issue: Issue) -> tuple[Path, Path]:
    """Render the issue into ``output/issues/<id>/`` and refresh ``output/index.html``."""
    render = renderer(config)
    folder = config.output_path / "issues" / issue.id
    web_url = f"{config.base_url.rstrip('/')}/issues/{issue.id}"
    page = render.issue(issue, web_url=web_url)
    html_path, text_path = folder / "index.html", folder / "issue.txt"
    write_atomic(html_path, page.html)
    write_atomic(text_path, page.text)
    store.save_issue(issue, str(folder))
    refresh_index(config, store, render)
    return html_path, text_path


def refresh_index(config: Config, store: Store, render: Renderer | None = None) -> None:
    """``output/index.html`` and ``output/feed.xml`` over the published issues."""
    render = render or renderer(config)
    write_atomic(
        config.output_path / "index.html", render.archive(config.title, store.public_issues())
    )
    export_feed(config, store)


# -- the newsletter's own feed (web archive) ---------------------------------------------


def web_renderer(config: Config) -> WebRenderer:
    return WebRenderer(
        config.templates_dir,
        timezone=config.timezone,
        language=config.language,
        title=config.title,
    )


def atom_feed(config: Config, store: Store, render: WebRenderer | None = None) -> str:
    """The newsletter as an Atom feed: the newest issues, each with its full content."""
    render = render or web_renderer(config)
    base = config.base_url.rstrip("/")
    records = store.public_issues()[: config.web.feed_issues]
    issues = [i for i in (store.load_issue(r.id) for r in records) if i is not None]
    updated = max((i.created for i in issues), default=datetime.now(UTC))
    return render.atom(
        [FeedEntry(i, f"{base}/issues/{i.id}") for i in issues],
        feed_url=f"{base}/feed.xml",
        site_url=f"{base}/",
        updated=updated,
    )


def export_feed(config: Config, store: Store) -> Path:
    """Write ``output/feed.xml`` next to ``output/index.html``, for static hosting."""
    path = config.output_path / "feed.xml"
    write_atomic(path, atom_feed(config, store))
    return path

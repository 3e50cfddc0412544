"""Log set-up shared by the CLI, the daemon and worker processes, and the job-line format."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the ``fields`` a record carries become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update({k: v for k, v in fields.items() if k not in payload})
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(fmt: str = "text") -> None:
    """Log lines to stderr: human text, or one JSON object per line for machines."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # APScheduler's own INFO lines ("Added job", "Running job") duplicate our job lines.
    for noisy in ("httpx", "httpcore", "apscheduler", "openai", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def current_format() -> str:
    """``json`` when the root logger writes JSON lines, else ``text`` (for child processes)."""
    handlers = logging.getLogger().handlers
    return "json" if any(isinstance(h.formatter, JsonFormatter) for h in handlers) else "text"


def one_line(text: str, cap: int) -> str:
    """Text from outside (a feed's title, a server's error) fit for one log line, capped:
    a newline in a feed title must not forge a second log line."""
    flat = " ".join("".join(" " if ch < " " or ch == "\x7f" else ch for ch in text).split())
    return flat if len(flat) <= cap else flat[: cap - 1] + "…"


def _text_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return '"' + "; ".join(str(v) for v in value) + '"'
    return str(value)


def log_line(log: logging.Logger, job: str, **fields: Any) -> None:
    """One line per job or step: ``job=poll feeds=12 …`` as text, the same keys as JSON.

    A list becomes ``key="a; b"`` in text and a JSON array in JSON.
    """
    parts = " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
    log.info("job=%s %s", job, parts, extra={"fields": {"job": job, **fields}})

"""The three flows that sequence the pure stages and do their I/O: poll, build, send.

Stages (parse, relevance, dedupe, compose, summarize, render, deliver) are pure functions
over models; each flow module feeds them from the store and the network and writes their
results back. ``subscriptions`` holds the subscriber actions the CLI and the web app share.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` so the CLI can draw bars."""

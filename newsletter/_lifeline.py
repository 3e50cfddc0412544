"""Child processes that end when the process that started them dies.

A ``kill -9`` of a poll gives its parse workers no chance to stop them: they sit on the
pool's call queue forever, because their forked siblings keep its write end open. Linux's
``PR_SET_PDEATHSIG`` fires when the forking *thread* ends, and the daemon forks its pools
from short-lived job threads, so each child instead watches its parent pid (a cheap
``getppid`` twice a second) and leaves once it changes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

CHECK_SECONDS = 0.5


def _exit_now() -> None:
    os._exit(1)


def exit_with_parent(
    parent: int | None = None,
    on_orphaned: Callable[[], None] = _exit_now,
    every: float = CHECK_SECONDS,
) -> None:
    """Call ``on_orphaned`` (default: exit at once) when ``parent`` is no longer our parent.

    ``parent`` is the pid the caller expects (pass the parent's own ``os.getpid()`` through
    the child's arguments: a parent that died before the child got here is then noticed).
    """
    expected = parent if parent is not None else os.getppid()
    if os.getppid() != expected:
        on_orphaned()
        return

    def watch() -> None:
        while os.getppid() == expected:
            stop.wait(every)
        on_orphaned()

    stop = threading.Event()
    threading.Thread(target=watch, name="lifeline", daemon=True).start()

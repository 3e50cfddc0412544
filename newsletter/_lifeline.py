"""How our processes end: children when the process that started them dies, daemons and
workers on SIGTERM / Ctrl-C.

A ``kill -9`` of a poll gives its parse workers no chance to stop them: they sit on the
pool's call queue forever, because their forked siblings keep its write end open. Linux's
``PR_SET_PDEATHSIG`` fires when the forking *thread* ends, and the daemon forks its pools
from short-lived job threads, so each child instead watches its parent pid (a cheap
``getppid`` twice a second) and leaves once it changes.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

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


def on_stop_signals(first: Callable[[int], None], again: Callable[[int], None]) -> None:
    """On the first SIGTERM or SIGINT call ``first(signum)`` in a thread of its own; on a
    second one call ``again(signum)`` (which should exit) right away.

    Why not stop from the handler itself: Python runs a handler in the main thread between
    two bytecodes, possibly while that thread holds a non-reentrant lock that stopping needs
    too (a ``threading.Event``'s condition, an executor's shutdown lock taken by
    ``submit``). The daemon then hung forever on SIGTERM. So the handler only writes the
    signal number to a pipe; a thread reading it does the stopping.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if received:
            again(signum)
            return
        received.append(signum)
        os.write(write, bytes([signum]))

    def deliver() -> None:
        first(os.read(read, 1)[0])

    threading.Thread(target=deliver, name="stop-signals", daemon=True).start()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

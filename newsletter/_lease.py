"""Who holds a lease, whether that holder still lives, and keeping a lease alive.

A lease owner is ``NAME@HOST:PIDNS#PID``. The name is for people (``worker --id``); host,
PID namespace and PID let a process tell that a holder on the *same* machine is gone (it
was killed, ``kill -9`` included) and take its rows at once instead of waiting for the
lease to run out. A holder on another machine, or in another PID namespace, is never
judged: only its lease expiry counts.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from types import TracebackType


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def owner_id(name: str | None = None) -> str:
    """A lease owner string for this process; ``name`` defaults to a short random one."""
    label = (name or f"w-{uuid.uuid4().hex[:6]}").replace("#", "_")[:80]
    return f"{label}@{socket.gethostname()[:64]}:{_pid_namespace()}#{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def dead_here(owner: str) -> bool:
    """True only when ``owner`` ran on this host and PID namespace and its process is gone."""
    rest, sep, pid = owner.rpartition("#")
    _, at, place = rest.rpartition("@")
    host, colon, namespace = place.rpartition(":")
    if not (sep and at and colon and pid.isdigit()):
        return False
    if host != socket.gethostname()[:64] or namespace != _pid_namespace():
        return False
    return int(pid) != os.getpid() and not _pid_alive(int(pid))


class Heartbeat:
    """Calls ``renew`` every ``interval`` seconds in a thread while the ``with`` body runs.

    A failed renewal is logged by the caller's function, not raised: the lease then simply
    expires, which is the safe outcome (another worker takes over).
    """

    def __init__(self, interval: float, renew: Callable[[], object]) -> None:
        self.interval = max(0.05, interval)
        self.renew = renew
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except Exception:  # noqa: BLE001 - a missed renewal only lets the lease lapse
                import logging

                logging.getLogger("newsletter.worker").warning(
                    "lease renewal failed", exc_info=True
                )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

"""How our processes end on signals: stopping runs in a thread, never inside the handler."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The main thread holds a plain Lock that stopping needs too, as it holds an executor's
# shutdown lock inside ``submit`` or an Event's condition inside ``wait``, when SIGTERM comes.
# Stopping from inside the handler would wait for the main thread, which waits for the
# handler: the daemon hung on SIGTERM that way.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from newsletter._lifeline import on_stop_signals

    lock = threading.Lock()
    stopped = threading.Event()

    def first(signum):
        with lock:
            print("first", signum, threading.current_thread().name, flush=True)
            stopped.set()

    def again(signum):
        print("again", signum, flush=True)
        os._exit(3)

    on_stop_signals(first, again)
    with lock:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.3)  # the handler runs here, in this thread, while it holds the lock
    assert stopped.wait(5), "first() never ran"
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    sys.exit(0)
    """
)


def test_the_first_signal_stops_from_a_thread_and_a_second_one_exits() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.split("\n")[:2] == ["first 15 stop-signals", "again 2"], done.stdout

"""Child processes that end with their parent: worker pools and data-loader workers poll the process that
started the run and exit when it is gone (a SIGKILL gives the parent no chance to stop them, and orphans
would otherwise sit idle forever, holding the resource tracker and the forkserver with them)."""
from __future__ import annotations

import os
import threading
import time

PARENT_POLL_SECONDS = 0.5


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def exit_with(pid: int, interval: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread in this (child) process that ends the process (``os._exit(1)``, no clean-up that
    could hang) once process ``pid`` — the run's main process — no longer exists. Returns the thread."""
    def watch() -> None:
        while process_alive(pid):
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True)
    thread.start()
    return thread


__all__ = ["PARENT_POLL_SECONDS", "exit_with", "process_alive"]

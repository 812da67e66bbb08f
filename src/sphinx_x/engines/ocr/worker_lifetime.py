"""Worker processes that end with their parent: a killed build leaves no orphan workers behind
(which would go on rendering and later print ``BrokenPipeError`` into the user's terminal)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """Make this process exit when ``parent`` does: the kernel's parent-death signal on Linux,
    and everywhere a daemon thread that watches the parent id."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, poll_s), daemon=True, name="watch-parent").start()


def _watch(parent: int, poll_s: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)

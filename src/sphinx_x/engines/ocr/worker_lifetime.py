"""Worker processes that end with their parent: a killed build leaves no orphan workers behind
(which would go on rendering and later print ``BrokenPipeError`` into the user's terminal).

A thread watches the parent's id. Linux's parent-death signal is not used: it fires when the *thread*
that forked the worker ends, and ``multiprocessing.Pool`` forks replacement workers from a helper thread
that ends in ``Pool.terminate()``, which would kill idle workers while they hold the task queue's lock
and deadlock the pool's shutdown.
"""

from __future__ import annotations

import os
import threading
import time


def die_with_parent(parent: int, poll_s: float = 0.2) -> None:
    """Make this process exit within ``poll_s`` seconds of ``parent`` exiting."""
    if os.getppid() != parent:  # the parent died before the watch began
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, poll_s), daemon=True, name="watch-parent").start()


def _watch(parent: int, poll_s: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)

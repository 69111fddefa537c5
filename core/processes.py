"""Processes the studio starts for itself (web server, Celery worker and scheduler, node manager,
compute nodes) die with the process that started them, even when it is killed outright."""

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True) if sys.platform == "linux" else None


def die_with_parent(sig: int = signal.SIGTERM):
    """A `preexec_fn` for Popen: the child is sent `sig` when its parent dies (Linux's parent-death
    signal; elsewhere nothing). SIGTERM lets a Celery worker finish its warm shutdown, and it stops
    taking tasks at once. The child also leaves the parent's process group, so a terminal's Ctrl-C
    reaches the parent alone, which stops its children in order."""
    parent = os.getpid()

    def preexec() -> None:
        os.setpgid(0, 0)
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the signal was armed
                os.kill(os.getpid(), sig)

    return preexec

"""Processes: whether one recorded in a pid file still runs (the local broker, the store's owner), and
one clean way out of a long-running command on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

logger = logging.getLogger("pdtrail")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0), yet it serves nothing.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


class Shutdown(BaseException):
    """Raised in the main thread on SIGTERM or SIGINT by :func:`shutdown_on_signals`. A BaseException,
    so that no ``except Exception`` on the way swallows it and every ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"signal {signum}")


@contextmanager
def shutdown_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT end the block the same way: :class:`Shutdown` is raised once in the main
    thread, and a second signal while the clean-up runs is ignored rather than cutting it short.
    (A server that captures signals itself, like uvicorn, re-raises them after its own shutdown:
    they land here then, not in the default handler that would kill the process mid-clean-up.)"""
    raised = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if raised.is_set():
            logger.warning("signal %d: already shutting down", signum)
            return
        raised.set()
        logger.info("signal %d: shutting down", signum)
        raise Shutdown(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

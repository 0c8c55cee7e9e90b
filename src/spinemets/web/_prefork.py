"""Several uvicorn workers forked from one process that has already built the application.

uvicorn's own ``--workers`` starts each worker with ``spawn``: a fresh interpreter that imports
the whole web stack and builds the application again (about 3 s each, all at once, on top of
the parent's own build), which made ``spinemets serve`` take 7-14 s to answer its first request.
Forked workers share the parent's imported modules and built application (copy on write), so
the server is ready as soon as the parent is.

The parent binds the socket, forks ``workers`` children that each run a ``uvicorn.Server`` on
it, restarts a child that dies, and on SIGINT or SIGTERM stops them all (uvicorn's graceful
shutdown in each). POSIX only: without ``os.fork`` the caller uses uvicorn's spawn workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
from types import FrameType
from typing import Any

import uvicorn

__all__ = ["can_fork", "serve_forked"]

_RESTART_PAUSE_S = 1.0


def can_fork() -> bool:
    """Whether forked workers are available here (POSIX)."""
    return hasattr(os, "fork") and "fork" in multiprocessing.get_all_start_methods()


def _worker(config: uvicorn.Config, sock: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    uvicorn.Server(config).run(sockets=[sock])


def _stop_all(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()


def serve_forked(app: Any, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (already built, its database engine disposed) from ``workers`` forks.

    ``options`` go to :class:`uvicorn.Config` (log level, proxy headers and the like).
    """
    config = uvicorn.Config(app, host=host, port=port, **options)
    sock = config.bind_socket()
    context = multiprocessing.get_context("fork")
    stopping = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker, args=(config, sock), name="spinemets-worker")
        process.start()
        return process

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping.wait(_RESTART_PAUSE_S):
            for index, process in enumerate(processes):
                if not process.is_alive() and not stopping.is_set():
                    process.join()
                    processes[index] = start()  # a worker died: replace it
    finally:
        _stop_all(processes)
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

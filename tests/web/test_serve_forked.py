"""``spinemets serve --workers 2``: forked workers (issue 21: ready in seconds, not 7-14 s)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from spinemets.web._prefork import can_fork

pytestmark = pytest.mark.skipif(not can_fork() or not Path("/proc").exists(),
                                reason="forked workers need POSIX (and /proc to count them)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(child) for child in path.read_text().split()} if path.exists() else set()


def test_forked_workers_serve_restart_and_stop(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    for name in ("SPINEMETS_DATABASE_URL", "SPINEMETS_DEMO", "SPINEMETS_AUTO_MIGRATE"):
        env.pop(name, None)
    server = subprocess.Popen([sys.executable, "-m", "spinemets", "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(f"http://127.0.0.1:{port}/healthz"):
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        workers = _children(server.pid)
        assert len(workers) == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/guide", timeout=5) as response:
            assert response.status == 200
        os.kill(min(workers), signal.SIGKILL)  # a worker dies: the parent replaces it
        deadline = time.monotonic() + 20
        while len(_children(server.pid) - {min(workers)}) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert _healthy(f"http://127.0.0.1:{port}/healthz")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

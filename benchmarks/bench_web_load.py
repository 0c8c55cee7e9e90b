"""Loopback load benchmark of ``POST /api/v1/plan`` on the synthetic demo cases.

Starts uvicorn in a subprocess (one worker per core, as ``spinemets serve``) on a temporary
SQLite database, then drives it with an asyncio client over raw keep-alive HTTP/1.1 sockets
(low client overhead), and prints requests/s, p50, p99 and maximum latency at each concurrency
level (default 4, 16 and 64 keep-alive connections).
Run: ``python benchmarks/bench_web_load.py [--seconds 15] [--concurrency 4 16 64]``.
Target on a 2-core machine: >= 500 requests/s with p99 < 50 ms.

Server CPU per request is the CPU time of the server's processes (from /proc) over the requests
served at that level. ``--baseline-python OTHER/.venv/bin/python`` also serves the same load
from another installation (for example the previous release unpacked with
``git archive <commit> | tar -x -C /tmp/old`` and its own venv), interleaved round by round with
this one (``--rounds``), so both see the same background load; figures on a shared machine are
noisy, compare the rounds side by side.

The demo cases are sent in turn, as an EHR asking again for cases it has not changed: their
plans are remembered per body and day after the first request. ``--distinct`` gives every
request a case id never sent before, so every request is a first plan (the engine and the
ranking of unknowns run each time): the figure for cases the server has not seen.

Each connection is reopened every ``--reconnect`` requests (default 100), as browsers and
proxies do. uvicorn's workers share one listening socket, and a fixed set of keep-alive
connections opened at once can all be accepted by one worker, leaving the other core idle
(measured here: about 400 requests/s at 4-8 never-reopened connections, against about 800 when
they are spread); reopening lets the kernel spread them. ``--reconnect 0`` shows that case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def _start_server(port: int, workers: int, db: Path, python: str = sys.executable
                  ) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SPINEMETS_DATABASE_URL=f"sqlite:///{db}", SPINEMETS_DEMO="true",
               SPINEMETS_AUTO_MIGRATE="false")
    # migrate and seed once before the workers start
    subprocess.run([python, "-c", (
        "from spinemets.web import Settings, create_app\n"
        "from spinemets.web._app import prepare_database\n"
        "app = create_app(Settings())\n"
        "prepare_database(app.state.spinemets)\n")], env=env, check=True)
    cmd = [python, "-m", "uvicorn", "spinemets.web:create_app_from_env", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server did not start")


def _request(port: int, path: str, case: dict[str, object]) -> bytes:
    body = json.dumps(case).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def _requests(port: int, path: str) -> list[bytes]:
    from spinemets.storage import demo_cases

    return [_request(port, path, case) for case in demo_cases()]


class _Distinct:
    """Request bytes of the demo cases, each with an id never sent before (``--distinct``: no
    answer can come from a cache; every request is a first plan)."""

    def __init__(self, port: int, path: str) -> None:
        from spinemets.storage import demo_cases

        self.cases, self.port, self.path, self.sent = demo_cases(), port, path, 0

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, i: int) -> bytes:
        self.sent += 1
        case = dict(self.cases[i % len(self.cases)])
        case["id"] = f"bench-{os.getpid()}-{time.monotonic_ns()}-{self.sent}"
        return _request(self.port, self.path, case)


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def _worker(port: int, payloads: Any, stop: float, latencies: list[float],
                  errors: list[int], offset: int, reconnect: int) -> None:
    reader, writer = await _connect(port)
    i = offset
    sent = 0
    while time.perf_counter() < stop:
        if reconnect and sent == reconnect:  # outside the timed span, as a client would
            writer.close()
            reader, writer = await _connect(port)
            sent = 0
        payload = payloads[i % len(payloads)]
        i += 1
        sent += 1
        start = time.perf_counter()
        writer.write(payload)
        status = await _read_response(reader)
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors.append(status)
    writer.close()


async def _drive(port: int, payloads: Any, seconds: float, concurrency: int,
                 reconnect: int) -> tuple[list[float], list[int], float]:
    # warm-up
    warm: list[float] = []
    await asyncio.gather(*(_worker(port, payloads, time.perf_counter() + 2, warm, [], k,
                                   reconnect) for k in range(concurrency)))
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, payloads, start + seconds, latencies, errors, k,
                                   reconnect) for k in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def _serve_levels(python: str, args: argparse.Namespace
                  ) -> list[tuple[int, list[float], list[int], float, float]]:
    port = _free_port()
    runs: list[tuple[int, list[float], list[int], float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc = _start_server(port, args.workers, Path(tmp) / "bench.sqlite3", python)
        try:
            payloads: Any = (_Distinct(port, args.path) if args.distinct
                             else _requests(port, args.path))
            for concurrency in args.concurrency:
                before = _tree_cpu_seconds(proc.pid)
                latencies, errors, elapsed = asyncio.run(
                    _drive(port, payloads, args.seconds, concurrency, args.reconnect))
                # the warm-up requests are in the CPU figure too: count them as served
                cpu = _tree_cpu_seconds(proc.pid) - before
                runs.append((concurrency, latencies, errors, elapsed, cpu))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return runs


def _report(label: str, runs: list[tuple[int, list[float], list[int], float, float]],
            warm_seconds: float) -> None:
    print(f"  {label}")
    for concurrency, latencies, errors, elapsed, cpu in runs:
        latencies.sort()
        n = len(latencies)
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[min(n - 1, int(n * 0.99))] * 1000
        worst = latencies[-1] * 1000
        rate = n / elapsed
        served = n + rate * warm_seconds  # warm-up requests, estimated at the same rate
        ok = rate >= 500 and p99 < 50 and not errors
        print(f"    {concurrency:>3} connections: {rate:.0f} requests/s, p50 {p50:.1f} ms, "
              f"p99 {p99:.1f} ms, max {worst:.0f} ms, server CPU {1000 * cpu / served:.2f} "
              f"ms/request, non-200 {len(errors)}"
              + (f" (e.g. {errors[0]})" if errors else "")
              + f"  target (>= 500 req/s, p99 < 50 ms): {'MET' if ok else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16, 64],
                        help="keep-alive connections; each level is one run on the same server")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="uvicorn workers (default: one per core, as `spinemets serve`)")
    parser.add_argument("--reconnect", type=int, default=100,
                        help="reopen each connection after this many requests (0: never)")
    parser.add_argument("--path", default="/api/v1/plan")
    parser.add_argument("--baseline-python", default=None,
                        help="interpreter of another installation to compare (e.g. the "
                        "previous release's venv), run interleaved with this one")
    parser.add_argument("--rounds", type=int, default=1, help="rounds (each: this, baseline)")
    parser.add_argument("--distinct", action="store_true",
                        help="give every request a case id never sent before, so no answer is "
                        "remembered (first plans only); default: the demo cases in turn, as "
                        "an EHR asking again for cases it has not changed")
    args = parser.parse_args()
    print(f"POST {args.path}: {args.workers} uvicorn workers, {len(demo_payload_count())} demo "
          f"cases, {args.seconds:.0f} s per level, connections reopened every {args.reconnect} "
          f"requests, client on the same {os.cpu_count()}-core machine"
          + (", every case id new (nothing remembered)" if args.distinct else ""))
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}")
        _report("this installation", _serve_levels(sys.executable, args), 2.0)
        if args.baseline_python:
            _report(f"baseline {args.baseline_python}",
                    _serve_levels(args.baseline_python, args), 2.0)


def demo_payload_count() -> list[object]:
    from spinemets.storage import demo_cases

    return list(demo_cases())


if __name__ == "__main__":
    main()

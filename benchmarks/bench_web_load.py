"""Loopback load benchmark of ``POST /api/v1/plan`` on the synthetic demo cases.

Starts uvicorn in a subprocess (2 workers) on a temporary SQLite database, then drives it with
an asyncio client over raw keep-alive HTTP/1.1 sockets (low client overhead), and prints
requests/s, p50 and p99 latency. Run: ``python benchmarks/bench_web_load.py [--seconds 15]``.
Target on a 2-core machine: >= 500 requests/s with p99 < 50 ms.
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(port: int, workers: int, db: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SPINEMETS_DATABASE_URL=f"sqlite:///{db}", SPINEMETS_DEMO="true",
               SPINEMETS_AUTO_MIGRATE="false")
    # migrate and seed once before the workers start
    subprocess.run([sys.executable, "-c", (
        "from spinemets.web import Settings, create_app\n"
        "from spinemets.web._app import prepare_database\n"
        "app = create_app(Settings())\n"
        "prepare_database(app.state.spinemets)\n")], env=env, check=True)
    cmd = [sys.executable, "-m", "uvicorn", "spinemets.web:create_app_from_env", "--factory",
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


def _requests(port: int, path: str) -> list[bytes]:
    from spinemets.storage import demo_cases

    out = []
    for case in demo_cases():
        body = json.dumps(case).encode()
        out.append(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body)
    return out


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _worker(port: int, payloads: list[bytes], stop: float, latencies: list[float],
                  errors: list[int], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    i = offset
    while time.perf_counter() < stop:
        payload = payloads[i % len(payloads)]
        i += 1
        start = time.perf_counter()
        writer.write(payload)
        status = await _read_response(reader)
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors.append(status)
    writer.close()


async def _drive(port: int, payloads: list[bytes], seconds: float, concurrency: int) -> tuple[
        list[float], list[int], float]:
    # warm-up
    warm: list[float] = []
    await asyncio.gather(*(_worker(port, payloads, time.perf_counter() + 2, warm, [], k)
                           for k in range(concurrency)))
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, payloads, start + seconds, latencies, errors, k)
                           for k in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--path", default="/api/v1/plan")
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = _start_server(port, args.workers, Path(tmp) / "bench.sqlite3")
        try:
            payloads = _requests(port, args.path)
            latencies, errors, elapsed = asyncio.run(
                _drive(port, payloads, args.seconds, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    latencies.sort()
    n = len(latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(n - 1, int(n * 0.99))] * 1000
    print(f"POST {args.path}: {n} requests in {elapsed:.1f} s with {args.concurrency} "
          f"connections, {args.workers} workers ({len(payloads)} demo cases)")
    print(f"throughput {n / elapsed:.0f} requests/s; latency p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms; non-200 responses: {len(errors)}"
          + (f" (e.g. {errors[0]})" if errors else ""))
    ok = n / elapsed >= 500 and p99 < 50 and not errors
    print("target (>= 500 req/s, p99 < 50 ms, no errors):", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()

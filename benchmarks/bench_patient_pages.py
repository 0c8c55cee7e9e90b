"""Patient pages: server start-up, page weight on the wire, console errors, slow-4G first paint.

1. Start-up: ``spinemets serve`` on the SQLite default (a fresh ``XDG_DATA_HOME``, so the
   database file is new: the first start migrates and seeds the demo; the second start reuses
   it), timed from the process start until ``/healthz`` answers 200. Target: under 3 s.
2. A cold home page (empty cache) in headless Chromium: bytes on the wire (the sum of the
   encoded sizes Chromium reports, headers included) per resource, the number of console
   errors, then a reload (what a returning visitor moves) and, on a throttled slow-4G profile
   (Chrome DevTools' "Slow 4G" preset, see :data:`SLOW_4G`), first paint and first contentful
   paint of a cold load.

Run: ``.venv/bin/python benchmarks/bench_patient_pages.py [--runs 3] [--pages / /guide]``.
Needs the web extra, Playwright and Chromium (``SPINEMETS_CHROMIUM``, default
/usr/bin/chromium). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("SPINEMETS_CHROMIUM", "/usr/bin/chromium")
#: Chrome DevTools' "Slow 4G" preset (the former "Fast 3G"): 1.6 Mbit/s down and 750 kbit/s up,
#: each times 0.9, and 150 ms round trip times 3.75 (DevTools' own factors).
SLOW_4G = {"offline": False, "latency": 150 * 3.75, "downloadThroughput": 1.6e6 / 8 * 0.9,
           "uploadThroughput": 750e3 / 8 * 0.9}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live children so far (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for process in [pid, *(int(c) for c in (children.read_text().split()
                                              if children.exists() else []))]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def start_server(data_home: Path, port: int, *, workers: int | None = None,
                 timeout: float = 120) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``spinemets serve`` and return it with the seconds until /healthz answered."""
    env = {**os.environ, "XDG_DATA_HOME": str(data_home)}
    for name in ("SPINEMETS_DATABASE_URL", "SPINEMETS_DEMO", "SPINEMETS_AUTO_MIGRATE"):
        env.pop(name, None)
    command = [sys.executable, "-m", "spinemets", "serve", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    health = f"http://127.0.0.1:{port}/healthz"
    while not _ready(health):
        if process.poll() is not None or time.perf_counter() - start > timeout:
            stop_server(process)
            raise SystemExit("spinemets serve did not answer /healthz")
        time.sleep(0.05)
    return process, time.perf_counter() - start


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def measure_startup(runs: int) -> None:
    print("Server start-up: `spinemets serve` (SQLite default, 2 workers as on this machine's "
          "default) until /healthz answers; wall seconds, and the CPU seconds the server's "
          "processes had used by then (the figure to trust on a loaded machine)")
    first: list[tuple[float, float]] = []
    again: list[tuple[float, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            for bucket in (first, again):
                process, seconds = start_server(Path(tmp), _free_port())
                cpu = _cpu_seconds(process.pid)
                stop_server(process)
                bucket.append((seconds, cpu))
    for label, values in (("first start (new database, demo seeded)", first),
                          ("later start (existing database)", again)):
        wall = [value[0] for value in values]
        cpu = [value[1] for value in values]
        verdict = "met" if statistics.median(wall) < 3 else "NOT met"
        print(f"  {label:<42} median {statistics.median(wall):5.2f} s  (min "
              f"{min(wall):.2f}, max {max(wall):.2f}; target < 3 s: {verdict}); "
              f"CPU median {statistics.median(cpu):.2f} s")


def _page_load(browser: Any, url: str, *, throttle: bool) -> dict[str, Any]:
    """One cold load (new context: empty cache), then one reload in the same context."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if throttle:
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    statuses: dict[str, int] = {}

    def on_response(event: dict[str, Any]) -> None:
        urls[event["requestId"]] = event["response"]["url"]
        statuses[event["requestId"]] = event["response"]["status"]

    def on_finished(event: dict[str, Any]) -> None:
        sizes[event["requestId"]] = int(event["encodedDataLength"])

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", on_finished)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url, wait_until="networkidle")
    paints = page.evaluate(
        "Object.fromEntries(performance.getEntriesByType('paint')"
        ".map(e => [e.name, e.startTime]))")
    cold = {urls.get(key, key): size for key, size in sizes.items()}
    cold_errors = list(errors)  # the cold load's own (the reload logs its own again)
    sizes.clear()
    urls.clear()
    page.reload(wait_until="networkidle")
    warm = {urls.get(key, key): size for key, size in sizes.items()}
    context.close()
    return {"cold": cold, "warm": warm, "errors": cold_errors, "paints": paints}


def measure_pages(paths: list[str], runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        process, _seconds = start_server(Path(tmp), port)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                for path in paths:
                    load = _page_load(browser, base + path, throttle=False)
                    total = sum(load["cold"].values())
                    print(f"\nCold {path} (empty cache): {total / 1024:.1f} KB on the wire, "
                          f"{len(load['cold'])} requests, {len(load['errors'])} console errors")
                    for resource, size in sorted(load["cold"].items(), key=lambda i: -i[1]):
                        print(f"  {size / 1024:8.1f} KB  {resource.removeprefix(base)}")
                    for error in load["errors"]:
                        print(f"  console error: {error[:150]}")
                    print(f"  reload (same visitor): {sum(load['warm'].values()) / 1024:.1f} KB, "
                          f"{len(load['warm'])} requests")
                    fp, fcp = [], []
                    for _ in range(runs):
                        slow = _page_load(browser, base + path, throttle=True)
                        fp.append(slow["paints"].get("first-paint", float("nan")))
                        fcp.append(slow["paints"].get("first-contentful-paint", float("nan")))
                    print(f"  slow 4G cold load ({runs} runs): first paint median "
                          f"{statistics.median(fp) / 1000:.2f} s, first contentful paint median "
                          f"{statistics.median(fcp) / 1000:.2f} s")
                browser.close()
        finally:
            stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", nargs="*", default=["/"])
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    args = parser.parse_args()
    if not args.skip_startup:
        measure_startup(args.runs)
    if not args.skip_pages:
        measure_pages(args.pages, args.runs)


if __name__ == "__main__":
    main()

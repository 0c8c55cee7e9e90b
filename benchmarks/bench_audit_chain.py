"""Audit hash chain: appends per second (one per transaction, as the web app does; serial and
with concurrent writers) and ``verify-audit`` rows per second, on SQLite (a temporary file) and
on PostgreSQL when ``SPINEMETS_TEST_POSTGRES_URL`` is set (a scratch database, dropped after).

Run: ``.venv/bin/python benchmarks/bench_audit_chain.py [--appends 2000] [--writers 4]``.
About 10-30 s on 2 shared cores with the defaults. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from spinemets import storage


def _append(engine: object, n: int, prefix: str) -> None:
    sessions = storage.make_sessionmaker(engine)  # type: ignore[arg-type]
    for i in range(n):
        with sessions.begin() as session:
            storage.record_audit(session, action="case_read", outcome="success",
                                 actor=f"{prefix}{i}", case_ref="bench-1", client="127.0.0.1")


def _run(url: str, appends: int, writers: int) -> None:
    engine = storage.make_engine(url)
    storage.migrate(engine)
    started = time.perf_counter()
    _append(engine, appends, "s")
    serial = appends / (time.perf_counter() - started)
    per = appends // writers
    threads = [threading.Thread(target=_append, args=(engine, per, f"w{i}-"))
               for i in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrent = per * writers / (time.perf_counter() - started)
    started = time.perf_counter()
    with storage.make_sessionmaker(engine).begin() as session:
        result = storage.verify_audit_chain(session)
    verify = result.rows / (time.perf_counter() - started)
    engine.dispose()
    print(f"{engine.dialect.name}: serial {serial:,.0f} appends/s; {writers} writers "
          f"{concurrent:,.0f} appends/s; verify {verify:,.0f} rows/s over {result.rows} rows; "
          f"chain intact: {result.intact}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.appends, args.writers)
    base = os.environ.get("SPINEMETS_TEST_POSTGRES_URL")
    if base:
        name = f"spinemets_bench_{secrets.token_hex(4)}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            _run(make_url(base).set(database=name).render_as_string(hide_password=False),
                 args.appends, args.writers)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()

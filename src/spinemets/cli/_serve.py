"""``spinemets serve``: the web app on uvicorn (embedded SQLite and demo data by default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["default_database_url", "register"]


def default_database_url() -> str:
    """A SQLite file in the user's data directory, or ``./spinemets.sqlite3`` if none is usable."""
    base = os.environ.get("XDG_DATA_HOME") or (Path.home() / ".local" / "share")
    directory = Path(base) / "spinemets"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return "sqlite:///spinemets.sqlite3"
    return f"sqlite:///{directory / 'spinemets.sqlite3'}"


def serve(  # noqa: PLR0917 - typer options are parameters
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL (default: SQLite file in the user data directory)."),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Seed synthetic demo cases and account.")
    ] = True,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Worker processes (default: one per CPU core).")] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips",
        help="Reverse proxies (IP addresses or networks, comma separated) whose "
        "X-Forwarded-For names the client. Default: none; forwarded headers are ignored "
        "(also from loopback). Or SPINEMETS_FORWARDED_ALLOW_IPS.")] = None,
) -> None:
    """Start the web application (patient pages, clinician workspace, JSON API).

    Worker model: ``workers`` uvicorn processes share the listening socket; each runs one event
    loop for I/O and a thread pool for the CPU work (plans, scores, password hashing), so a
    slow request never holds up the others in its process. The workers are forked from this
    process after it has built the application and prepared the database (on POSIX), so the
    server answers as soon as one build is done.

    uvicorn's own proxy-header handling is off (it believes loopback by default): the
    application reads ``X-Forwarded-For`` itself, from the proxies named here only.
    """
    import uvicorn  # noqa: PLC0415 - web extra imported lazily

    from spinemets import storage  # noqa: PLC0415 - web extra imported lazily
    from spinemets.web import Settings, create_app  # noqa: PLC0415 - web extra imported lazily
    from spinemets.web._app import prepare_database  # noqa: PLC0415 - web extra imported lazily
    from spinemets.web._prefork import can_fork, serve_forked  # noqa: PLC0415 - web extra lazily
    from spinemets.web._state import AppState  # noqa: PLC0415 - web extra imported lazily

    workers = workers or os.cpu_count() or 1
    url = database_url or os.environ.get("SPINEMETS_DATABASE_URL") or default_database_url()
    os.environ["SPINEMETS_DATABASE_URL"] = url
    os.environ["SPINEMETS_DEMO"] = "true" if demo else "false"
    if forwarded_allow_ips is not None:
        os.environ["SPINEMETS_FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    from pydantic import ValidationError  # noqa: PLC0415 - web extra imported lazily

    try:
        settings = Settings(database_url=url, demo=demo, auto_migrate=False)
    except ValidationError as exc:
        # e.g. --no-demo (real data) on the public development secret: refused, not a warning
        messages = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ")
                             for e in exc.errors())
        typer.echo(f"spinemets: refusing to start: {messages}", err=True)
        raise typer.Exit(code=2) from exc
    if settings.forwarded_allow_ips:
        typer.echo("spinemets: X-Forwarded-For believed from "
                   + ", ".join(settings.forwarded_allow_ips))
    # Migrate and seed once, before any worker starts.
    app = create_app(settings)
    state: AppState = app.state.spinemets
    prepare_database(state)
    state.engine.dispose()
    typer.echo(f"spinemets: database {url.split('@')[-1]}")
    if demo and settings.environment == "development":
        typer.echo(
            f"spinemets: DEMO ONLY - clinician sign-in: username {storage.DEMO_USERNAME!r}, "
            f"password {storage.DEMO_PASSWORD!r} (synthetic data; never enter real patients)"
        )
    typer.echo(f"spinemets: {workers} worker process(es); open http://{host}:{port}/")
    if workers > 1 and can_fork():
        # The workers are forks of this process: the application is built once, above.
        serve_forked(app, host=host, port=port, workers=workers, log_level="warning",
                     access_log=False, proxy_headers=False)
    elif workers > 1:
        os.environ["SPINEMETS_AUTO_MIGRATE"] = "false"
        uvicorn.run("spinemets.web:create_app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="warning", access_log=False,
                    proxy_headers=False)
    else:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                    proxy_headers=False)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``spinemets`` command line."""
    app.command("serve")(serve)

"""Persistence adapter: SQLAlchemy 2 models, repository functions, packaged Alembic migrations.

SQLite (WAL journal) is the default; PostgreSQL works through a ``postgresql+psycopg://`` URL.
Nothing here is created at import time: call :func:`make_engine` and :func:`migrate`.
Repository functions take the session first and everything else by keyword. No patient data is
ever logged.
"""

from spinemets.storage._db import make_engine, make_sessionmaker, migrate
from spinemets.storage._models import Base, CaseRecord, User, WebSession
from spinemets.storage._repo import (
    create_session,
    create_user,
    delete_case,
    delete_session,
    get_case,
    get_session_user,
    get_user,
    list_cases,
    save_case,
)
from spinemets.storage._seed import DEMO_PASSWORD, DEMO_USERNAME, demo_cases, seed_demo

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "Base",
    "CaseRecord",
    "User",
    "WebSession",
    "create_session",
    "create_user",
    "delete_case",
    "delete_session",
    "demo_cases",
    "get_case",
    "get_session_user",
    "get_user",
    "list_cases",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "save_case",
    "seed_demo",
]

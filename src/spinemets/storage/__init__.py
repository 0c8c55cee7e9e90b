"""Persistence adapter: SQLAlchemy 2 models, repository functions, packaged Alembic migrations.

SQLite (WAL journal) is the default; PostgreSQL works through a ``postgresql+psycopg://`` URL.
Nothing here is created at import time: call :func:`make_engine` and :func:`migrate`.
Repository functions take the session first and everything else by keyword. No patient data is
ever logged.

Cases keep every version (:func:`create_case`, :func:`update_case`, :func:`record_decision`,
:func:`soft_delete_case`); only :func:`purge_case` removes one. Audit records are append-only.
"""

from spinemets.storage._audit import (
    ThrottlePolicy,
    clear_failures,
    consume_login_nonce,
    count_audit,
    issue_login_nonce,
    list_audit,
    record_audit,
    record_failure,
    throttle_wait,
)
from spinemets.storage._backup import BackupError, backup, fingerprint, restore
from spinemets.storage._db import make_engine, make_sessionmaker, migrate
from spinemets.storage._errors import (
    CaseExistsError,
    CaseNotFoundError,
    InvalidCaseRefError,
    StaleVersionError,
    StorageError,
)
from spinemets.storage._history import Change, diff_documents, tables_fingerprint
from spinemets.storage._meetings import (
    add_meeting_case,
    create_meeting,
    get_meeting,
    list_meetings,
    meeting_cases,
)
from spinemets.storage._models import (
    AuditEvent,
    Base,
    CaseRecord,
    CaseVersion,
    Meeting,
    User,
    WebSession,
)
from spinemets.storage._refs import CASE_REF_MAX, CASE_REF_PATTERN, CASE_REF_RULE, check_case_ref
from spinemets.storage._repo import (
    ROLES,
    VersionInfo,
    case_versions,
    count_versions,
    create_case,
    create_session,
    create_user,
    delete_session,
    delete_user_sessions,
    get_case,
    get_session_user,
    get_user,
    get_user_by_id,
    get_version,
    list_cases,
    list_users,
    purge_case,
    record_decision,
    set_roles,
    soft_delete_case,
    update_case,
    update_user,
)
from spinemets.storage._seed import DEMO_PASSWORD, DEMO_USERNAME, demo_cases, seed_demo

__all__ = [
    "CASE_REF_MAX",
    "CASE_REF_PATTERN",
    "CASE_REF_RULE",
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "ROLES",
    "AuditEvent",
    "BackupError",
    "Base",
    "CaseExistsError",
    "CaseNotFoundError",
    "CaseRecord",
    "CaseVersion",
    "Change",
    "InvalidCaseRefError",
    "Meeting",
    "StaleVersionError",
    "StorageError",
    "ThrottlePolicy",
    "User",
    "VersionInfo",
    "WebSession",
    "add_meeting_case",
    "backup",
    "case_versions",
    "check_case_ref",
    "clear_failures",
    "consume_login_nonce",
    "count_audit",
    "count_versions",
    "create_case",
    "create_meeting",
    "create_session",
    "create_user",
    "delete_session",
    "delete_user_sessions",
    "demo_cases",
    "diff_documents",
    "fingerprint",
    "get_case",
    "get_meeting",
    "get_session_user",
    "get_user",
    "get_user_by_id",
    "get_version",
    "issue_login_nonce",
    "list_audit",
    "list_cases",
    "list_meetings",
    "list_users",
    "make_engine",
    "make_sessionmaker",
    "meeting_cases",
    "migrate",
    "purge_case",
    "record_audit",
    "record_decision",
    "record_failure",
    "restore",
    "seed_demo",
    "set_roles",
    "soft_delete_case",
    "tables_fingerprint",
    "throttle_wait",
    "update_case",
    "update_user",
]

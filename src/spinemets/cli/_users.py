"""``spinemets user add|list|disable|enable|set-password|set-role|link-oidc``: accounts.

Passwords are read from a hidden prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input; never from an argument (arguments end up in shell history and
``ps``). Every change is written to the audit trail as done by ``cli:<OS user>``.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from spinemets.cli._output import console, fail

__all__ = ["register"]

user_app = typer.Typer(help="Accounts and roles (clinician, coordinator, researcher, admin).",
                       no_args_is_help=True)

DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL (default: SPINEMETS_DATABASE_URL or the serve "
    "default).")]
StdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input.")]
MIN_PASSWORD = 12  # spinemets.storage.PASSWORD_MIN (the storage package is imported lazily)


def _url(database_url: str | None) -> str:
    from spinemets.cli._serve import default_database_url  # noqa: PLC0415

    return database_url or os.environ.get("SPINEMETS_DATABASE_URL") or default_database_url()


def _password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            fail("the passwords differ")
    if len(password) < MIN_PASSWORD:
        fail(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def _checked(password: str, username: str) -> str:
    """The normalised username; fails (one line) on a bad name or a weak password."""
    from spinemets import storage  # noqa: PLC0415 - web extra imported lazily

    try:
        name = storage.normalise_username(username)
        storage.check_password(password, username=name)
    except ValueError as exc:
        fail(str(exc))
    return name


def _hash(password: str) -> str:
    from pwdlib import PasswordHash  # noqa: PLC0415 - web extra imported lazily
    from pwdlib.hashers.argon2 import Argon2Hasher  # noqa: PLC0415

    return PasswordHash((Argon2Hasher(),)).hash(password)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except (KeyError, OSError):  # pragma: no cover - no user name in the environment
        return "cli"


def _change(database_url: str | None, action: str, username: str, change: object) -> None:
    """Run ``change(session)`` and audit it, in one transaction."""
    from spinemets import storage  # noqa: PLC0415 - web extra imported lazily

    engine = storage.make_engine(_url(database_url))
    try:
        storage.migrate(engine)
        with storage.make_sessionmaker(engine).begin() as session:
            try:
                change(session)  # type: ignore[operator]
            except (LookupError, ValueError) as exc:
                fail(str(exc).strip("'\""))
            storage.record_audit(session, action=action, outcome="success", actor=_actor(),
                                 target=f"user:{username}", client="cli")
    finally:
        engine.dispose()


@user_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="Role (repeatable).")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app.")] = None,
    password_stdin: StdinOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create an account (the first admin too)."""
    from spinemets import storage  # noqa: PLC0415

    password = _password(password_stdin)
    name = _checked(password, username)
    password_hash = _hash(password)

    def create(session: object) -> None:
        storage.create_user(session, username=name,  # type: ignore[arg-type]
                            password_hash=password_hash, display_name=display_name or name,
                            roles=role)

    _change(database_url, "user_add", name, create)
    console().print(f"added {name} ({', '.join(sorted(set(role)))})", markup=False)


@user_app.command("list")
def list_users(database_url: DatabaseOption = None) -> None:
    """Every account with its roles and status."""
    from spinemets import storage  # noqa: PLC0415

    engine = storage.make_engine(_url(database_url))
    try:
        storage.migrate(engine)
        with storage.make_sessionmaker(engine).begin() as session:
            for user in storage.list_users(session):
                status = "disabled" if user.disabled else "active"
                typer.echo(f"{user.username}\t{user.roles}\t{status}\t{user.display_name}")
    finally:
        engine.dispose()


def _set_disabled(username: str, database_url: str | None, *, disabled: bool) -> None:
    from spinemets import storage  # noqa: PLC0415

    _change(database_url, "user_disable" if disabled else "user_enable", username,
            lambda s: storage.update_user(s, username=username, disabled=disabled))
    console().print(f"{'disabled' if disabled else 'enabled'} {username}", markup=False)


@user_app.command("disable")
def disable(username: Annotated[str, typer.Argument()],
            database_url: DatabaseOption = None) -> None:
    """Disable an account (its sessions end at once; history keeps its name)."""
    _set_disabled(username, database_url, disabled=True)


@user_app.command("enable")
def enable(username: Annotated[str, typer.Argument()],
           database_url: DatabaseOption = None) -> None:
    """Enable a disabled account again."""
    _set_disabled(username, database_url, disabled=False)


@user_app.command("set-password")
def set_password(username: Annotated[str, typer.Argument()],
                 password_stdin: StdinOption = False,
                 database_url: DatabaseOption = None) -> None:
    """Set a new password (its sessions end)."""
    from spinemets import storage  # noqa: PLC0415

    password = _password(password_stdin)
    _checked(password, username)
    password_hash = _hash(password)
    _change(database_url, "user_set_password", username,
            lambda s: storage.update_user(s, username=username, password_hash=password_hash))
    console().print(f"password changed for {username}", markup=False)


@user_app.command("set-role")
def set_role(username: Annotated[str, typer.Argument()],
             role: Annotated[list[str], typer.Option("--role", "-r",
                                                     help="Role (repeatable).")],
             database_url: DatabaseOption = None) -> None:
    """Replace the roles of an account (its sessions end)."""
    from spinemets import storage  # noqa: PLC0415

    _change(database_url, "user_set_role", username,
            lambda s: storage.set_roles(s, username=username, roles=role))
    console().print(f"{username}: {', '.join(sorted(set(role)))}", markup=False)


@user_app.command("link-oidc")
def link_oidc(
    username: Annotated[str, typer.Argument()],
    subject: Annotated[str, typer.Option(
        "--subject", help="The user's 'sub' claim at the identity provider.")],
    issuer: Annotated[str | None, typer.Option(
        help="The issuer (default: SPINEMETS_OIDC_ISSUER).")] = None,
    keep_password: Annotated[bool, typer.Option(
        "--keep-password", help="Keep the local password too (default: single sign-on only).")
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Let an existing account sign in with single sign-on (its sessions end)."""
    from spinemets import storage  # noqa: PLC0415

    issuer = issuer or os.environ.get("SPINEMETS_OIDC_ISSUER") or ""
    if not subject.strip() or not f"{issuer}{subject}".isprintable() or (
            not issuer or len(f"{issuer} {subject}") > 255):
        fail("link-oidc: give --subject and --issuer (or SPINEMETS_OIDC_ISSUER): printable, "
             "together at most 255 characters")
    linked = f"{issuer} {subject}"

    def link(session: object) -> None:
        other = storage.get_user_by_oidc_subject(session, subject=linked)  # type: ignore[arg-type]
        if other is not None:
            raise ValueError(f"that identity is already linked to {other.username}")
        user = storage.get_user(session, username=username)  # type: ignore[arg-type]
        if user is None:
            raise LookupError(f"no account {username}")
        user.oidc_subject = linked
        if not keep_password:
            user.password_hash = "!single-sign-on"
        storage.delete_user_sessions(session, user_id=user.id)  # type: ignore[arg-type]

    _change(database_url, "user_link_oidc", username, link)
    console().print(f"{username}: signs in as {subject} at {issuer}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``user`` to the ``spinemets`` command line."""
    app.add_typer(user_app, name="user")

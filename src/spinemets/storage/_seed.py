"""Synthetic demo data: a demo clinician account and a handful of invented cases."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from spinemets._yaml import safe_load
from spinemets.storage._repo import (
    create_case,
    create_user,
    delete_user_sessions,
    get_case,
    get_user,
)

__all__ = ["DEMO_PASSWORD", "DEMO_USERNAME", "demo_cases", "reset_demo_password", "seed_demo"]

#: Demo-only credentials, printed by ``spinemets serve --demo`` and shown on the sign-in page, in
#: development only: elsewhere the demo account gets a random password nobody knows.
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-only-password"


@cache
def _demo_cases() -> tuple[dict[str, Any], ...]:
    text = resources.files("spinemets.storage").joinpath("demo_cases.yaml").read_text("utf-8")
    data = safe_load(text)
    return tuple(data["cases"])


def demo_cases() -> list[dict[str, Any]]:
    """The synthetic demo cases (``spinemets-case/1`` documents), fresh copies."""
    return [copy.deepcopy(c) for c in _demo_cases()]


def seed_demo(session: Session, *, hash_password: Callable[[str], str],
              public_password: bool = True) -> None:
    """Add the demo account and demo cases if they are not there yet (idempotent).

    ``public_password=False`` (every environment but development) gives the demo account a
    random password instead of :data:`DEMO_PASSWORD`, and replaces the public one if it was set
    before (:func:`reset_demo_password`).
    """
    password = DEMO_PASSWORD if public_password else secrets.token_urlsafe(32)
    user = get_user(session, username=DEMO_USERNAME)
    if user is not None and not public_password:
        reset_demo_password(session, hash_password=hash_password)
    if user is None:
        user = create_user(
            session,
            username=DEMO_USERNAME,
            password_hash=hash_password(password),
            display_name="Demo clinician (example account)",
            roles=("clinician", "coordinator"),  # the demo shows cases and MDT meetings
        )
    for case in demo_cases():
        if get_case(session, case_ref=case["id"], include_deleted=True) is None:
            create_case(session, case_ref=case["id"], data=case, user=user, demo=True,
                        reason="synthetic demo case")


def reset_demo_password(session: Session, *, hash_password: Callable[[str], str]) -> None:
    """Give the demo account (if any) a random password: the public one is for development."""
    user = get_user(session, username=DEMO_USERNAME)
    if user is not None:
        user.password_hash = hash_password(secrets.token_urlsafe(32))
        delete_user_sessions(session, user_id=user.id)
        session.flush()

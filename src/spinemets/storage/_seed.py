"""Synthetic demo data: a demo clinician account and a handful of invented cases."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from spinemets._yaml import safe_load
from spinemets.storage._repo import create_case, create_user, get_case, get_user

__all__ = ["DEMO_PASSWORD", "DEMO_USERNAME", "demo_cases", "seed_demo"]

#: Demo-only credentials, printed by ``spinemets serve --demo`` and shown on the sign-in page.
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


def seed_demo(session: Session, *, hash_password: Callable[[str], str]) -> None:
    """Add the demo account and demo cases if they are not there yet (idempotent)."""
    user = get_user(session, username=DEMO_USERNAME)
    if user is None:
        user = create_user(
            session,
            username=DEMO_USERNAME,
            password_hash=hash_password(DEMO_PASSWORD),
            display_name="Demo clinician (example account)",
            roles=("clinician", "coordinator"),  # the demo shows cases and MDT meetings
        )
    for case in demo_cases():
        if get_case(session, case_ref=case["id"], include_deleted=True) is None:
            create_case(session, case_ref=case["id"], data=case, user=user, demo=True,
                        reason="synthetic demo case")

"""Device cookies: "this browser has signed in as this account before" (OWASP device cookies).

After a successful sign-in the browser gets ``sm_device``: a sealed (encrypted and
authenticated, :mod:`spinemets.web._sealed`) list of up to
:data:`DEVICE_MAX` (account, random id) pairs, newest first, so a shared ward computer can hold
several clinicians. A sign-in attempt that presents a valid entry for the account it names is
throttled on that device's own counter only; an attacker hammering the account from elsewhere
(without the cookie, which only a successful sign-in hands out and which cannot be forged
without the secret key) never delays it.
"""

from __future__ import annotations

import secrets
from typing import Any

from spinemets.web._sealed import Sealer, UnsealableError, sealer

__all__ = ["DEVICE_COOKIE", "DEVICE_DAYS", "DEVICE_MAX", "device_id", "remember_device"]

DEVICE_COOKIE = "sm_device"
DEVICE_DAYS = 180
DEVICE_MAX = 8
_SALT = "spinemets-device-cookie"


def _serializer(state: Any) -> Sealer:
    return sealer(state.secret, _SALT)


def _entries(state: Any, cookie: str | None) -> list[tuple[str, str]]:
    if not cookie or len(cookie) > 4096:
        return []
    try:  # sealed and dated: a copied cookie stops counting DEVICE_DAYS after the last sign-in
        data = _serializer(state).loads(cookie, max_age=DEVICE_DAYS * 24 * 3600)
    except UnsealableError:
        return []
    if not isinstance(data, list):
        return []
    return [(str(e[0]), str(e[1])) for e in data[:DEVICE_MAX]
            if isinstance(e, list) and len(e) == 2]


def device_id(state: Any, cookie: str | None, account: str) -> str | None:
    """The id of this browser for ``account`` (normalised name), or None if it has none."""
    return next((ident for name, ident in _entries(state, cookie) if name == account), None)


def remember_device(state: Any, cookie: str | None, account: str) -> str:
    """The new cookie value after ``account`` signed in from this browser."""
    entries = _entries(state, cookie)
    ident = next((i for name, i in entries if name == account), None) or secrets.token_urlsafe(16)
    kept = [[name, i] for name, i in entries if name != account]
    value: str = _serializer(state).dumps([[account, ident], *kept][:DEVICE_MAX])
    return value

"""Account names and passwords: the rules every way of creating an account goes through.

Usernames are normalised (Unicode NFKC, then case-folded, then NFKC again: the
``NFKC_Casefold`` form of UTS #15/#31) before they are stored or looked up, so ``Alice``,
``ALICE`` and the full-width ``ａｌｉｃｅ`` are one account. After normalisation a username is
3 to 64 characters from ``a-z 0-9 . _ - @``, starting with a letter or a digit. Everything else
is refused: spaces, control and escape characters, and every non-ASCII letter, which is where
the homoglyphs are (Cyrillic ``а`` looks like Latin ``a``). Within ASCII some names still look
alike (``c1inician`` and ``clinician``, ``rn`` and ``m``, ``john.smith`` and ``john_smith``):
a new name whose :func:`username_skeleton` equals an existing account's is refused as confusable.

Passwords need 12 to 1,024 characters (at least 5 different ones), may not contain the
username, and may not be (or be a common password followed by digits and symbols, such as
``Password2024!``) one of the 20,000 common passwords shipped in ``common-passwords.txt.gz``
(see ``common-passwords.LICENSE``).
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources

from spinemets.storage._errors import StorageError

__all__ = [
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "USERNAME_MAX",
    "USERNAME_MIN",
    "USERNAME_RULE",
    "InvalidUsernameError",
    "WeakPasswordError",
    "check_new_username",
    "check_password",
    "is_common_password",
    "normalise_username",
    "username_skeleton",
]

USERNAME_MIN = 3
USERNAME_MAX = 64
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
USERNAME_RULE = (f"{USERNAME_MIN} to {USERNAME_MAX} characters from a-z 0-9 . _ - @, "
                 "starting with a letter or digit")
_USERNAME = re.compile(rf"[a-z0-9][a-z0-9._@-]{{{USERNAME_MIN - 1},{USERNAME_MAX - 1}}}")


class InvalidUsernameError(StorageError, ValueError):
    """A username that breaks the rules, or looks like an existing account's."""


class WeakPasswordError(StorageError, ValueError):
    """A password that is too short, too long, common or contains the username."""


def normalise_username(raw: str) -> str:
    """``raw`` in its one stored form (NFKC case-folded); :class:`InvalidUsernameError` if bad.

    Leading and trailing spaces are the only thing forgiven (they are removed): a name with
    spaces, controls or non-ASCII letters inside is refused, naming the rule.
    """
    if len(raw) > 4 * USERNAME_MAX:  # never normalise a huge value
        msg = f"username: too long (at most {USERNAME_MAX} characters)"
        raise InvalidUsernameError(msg)
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw.strip()).casefold())
    if not name:
        raise InvalidUsernameError("username: empty; " + USERNAME_RULE)
    if not _USERNAME.fullmatch(name):
        odd = next((c for c in name if not re.fullmatch(r"[a-z0-9._@-]", c)), None)
        what = (f"character U+{ord(odd):04X} is not allowed" if odd is not None else
                "wrong length or first character")
        raise InvalidUsernameError(f"username: {what}; {USERNAME_RULE}")
    return name


#: ASCII look-alikes (from the Unicode confusables data, restricted to what a valid name holds).
_SKELETON = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("_", "."), ("-", "."))


def username_skeleton(name: str) -> str:
    """A key equal for names a reader would confuse (``c1inician`` and ``clinician``)."""
    skeleton = name
    for look_alike, letter in _SKELETON:
        skeleton = skeleton.replace(look_alike, letter)
    return skeleton


def check_new_username(raw: str, *, existing: Iterable[str]) -> str:
    """The normalised form of a new account's name, refused if taken or confusable."""
    name = normalise_username(raw)
    skeleton = username_skeleton(name)
    for other in existing:
        if other == name:
            raise InvalidUsernameError(f"username: account {name} already exists")
        if username_skeleton(other) == skeleton:
            raise InvalidUsernameError(
                f"username: {name} is too easily confused with the existing account {other}")
    return name


@cache
def _common() -> frozenset[str]:
    data = resources.files("spinemets.storage").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").split())


def is_common_password(password: str) -> bool:
    """``password`` (lower-cased, or without trailing digits and symbols) is a common one."""
    lowered = password.casefold()
    stem = re.sub(r"[\W\d_]+$", "", lowered)
    return lowered in _common() or (len(stem) >= 4 and stem in _common())


def check_password(password: str, *, username: str) -> None:
    """Refuse (:class:`WeakPasswordError`, one clear line) a password that breaks the rules."""
    if len(password) < PASSWORD_MIN:
        raise WeakPasswordError(f"password: at least {PASSWORD_MIN} characters are needed")
    if len(password) > PASSWORD_MAX:
        raise WeakPasswordError(f"password: at most {PASSWORD_MAX} characters")
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise WeakPasswordError("password: control characters are not allowed")
    if len(set(password.casefold())) < 5:
        raise WeakPasswordError("password: too repetitive (at least 5 different characters)")
    if username and username.casefold() in password.casefold():
        raise WeakPasswordError("password: it may not contain the username")
    if is_common_password(password):
        raise WeakPasswordError("password: this is one of the most common passwords; "
                                "choose another (a few unrelated words work well)")

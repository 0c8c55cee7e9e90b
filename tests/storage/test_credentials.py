"""Username normalisation and confusables, password rules and the common-password list."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from spinemets import storage
from spinemets.storage import InvalidUsernameError, WeakPasswordError


@pytest.mark.parametrize(("typed", "stored"), [
    ("alice", "alice"),
    ("Alice", "alice"),
    ("ALICE", "alice"),
    ("  alice\t", "alice"),  # padding around the name is forgiven
    ("ａｌｉｃｅ", "alice"),  # full-width letters (NFKC)
    ("Straße.K", "strasse.k"),  # full case folding
    ("j.smith@ward-4", "j.smith@ward-4"),
    ("ﬁona", "fiona"),  # the fi ligature
])
def test_usernames_are_normalised(typed: str, stored: str) -> None:
    assert storage.normalise_username(typed) == stored


@pytest.mark.parametrize("bad", [
    "",
    "   ",
    "ab",
    "a" * 65,
    "a" * 5000,
    "al ice",
    "alice\x1b[31m",  # terminal escape sequence
    "alice\x00",
    "\u202eecila",  # right-to-left override
    "аlice",  # Cyrillic а
    "αlice",  # Greek alpha
    "josé",  # non-ASCII letters are refused (that is where the homoglyphs are)
    ".alice",
    "-alice",
    "alice/../admin",
    "alice\u200b",  # zero-width space
])
def test_bad_usernames_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(InvalidUsernameError, match=r"^username: ") as caught:
        storage.normalise_username(bad)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize(("existing", "new"), [
    ("clinician", "Clinician"),
    ("clinician", "ＣＬＩＮＩＣＩＡＮ"),
    ("clinician", "c1inician"),
    ("modern", "rnodern"),
    ("john.smith", "john_smith"),
    ("john.smith", "john-smith"),
    ("bob0", "bobo"),
    ("wendy", "vvendy"),
])
def test_taken_and_confusable_names_are_refused(existing: str, new: str) -> None:
    with pytest.raises(InvalidUsernameError, match=r"already exists|confused"):
        storage.check_new_username(new, existing=[existing])


def test_distinct_names_are_accepted() -> None:
    assert storage.check_new_username("Alicia", existing=["alice", "bob"]) == "alicia"


def test_create_user_normalises_and_refuses_confusables(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        user = storage.create_user(session, username="Dr.Jones", password_hash="x",
                                   display_name="Dr Jones")
        assert user.username == "dr.jones"
    with pytest.raises(InvalidUsernameError, match="confused"), sessions.begin() as session:
        storage.create_user(session, username="dr_jones", password_hash="x", display_name="x")
    with sessions.begin() as session:
        found = storage.get_user(session, username="DR.JONES")
        assert found is not None and found.username == "dr.jones"
        assert storage.get_user(session, username="dr_jones") is None
        assert storage.get_user(session, username="x" * 5000) is None


def test_migration_0006_normalises_existing_names(tmp_path: Path) -> None:
    engine = storage.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    storage.migrate(engine, revision="0003")
    with engine.begin() as connection:
        for name in ("Alice", "bob", "Bob", "Old Name"):
            connection.execute(text(
                "INSERT INTO users (username, password_hash, display_name, roles, disabled, "
                "created_at) VALUES (:n, 'x', :n, 'clinician', 0, '2025-01-01')"), {"n": name})
    storage.migrate(engine)
    with engine.connect() as connection:
        names = sorted(r[0] for r in connection.execute(text("SELECT username FROM users")))
    engine.dispose()
    assert names == ["Bob", "Old Name", "alice", "bob"]  # Bob would collide; Old Name invalid


@pytest.mark.parametrize("weak", [
    "short",
    "password1234",
    "Password2024!",
    "qwertyuiop12",
    "iloveyou12345",
    "11111111111111",
    "my name is clinician ok",
    "x" * 1025,
    "tab\tinside the password",
])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(WeakPasswordError, match=r"^password: "):
        storage.check_password(weak, username="clinician")


def test_good_passwords_pass() -> None:
    storage.check_password("correct horse battery staple", username="clinician")
    storage.check_password("Ünïcode pässwörd 2024", username="clinician")
    assert storage.is_common_password("dragon") and not storage.is_common_password("q8#Lm2!zR")

"""Storage errors (subclasses of :class:`spinemets.errors.SpinemetsError`).

::

    SpinemetsError
    └── StorageError
        ├── InvalidCaseRefError (ValueError)   reference not matching CASE_REF_PATTERN
        ├── CaseExistsError                    "new case" with a reference already used
        ├── CaseNotFoundError (LookupError)    no case (or it is deleted)
        └── StaleVersionError                  edit based on a version that is not current
"""

from __future__ import annotations

from spinemets.errors import SpinemetsError

__all__ = [
    "CaseExistsError",
    "CaseNotFoundError",
    "InvalidCaseRefError",
    "StaleVersionError",
    "StorageError",
]


class StorageError(SpinemetsError):
    """A storage operation refused."""


class InvalidCaseRefError(StorageError, ValueError):
    """A case reference that does not follow the documented pattern."""


class CaseExistsError(StorageError):
    """A new case under a reference that is already used (live or deleted)."""

    def __init__(self, case_ref: str) -> None:
        super().__init__(f"a case with reference {case_ref!r} already exists")
        self.case_ref = case_ref


class ReservedCaseRefError(CaseExistsError):
    """A new case under the reference of a purged case (kept reserved for good)."""

    def __init__(self, case_ref: str) -> None:
        super().__init__(case_ref)
        self.args = (f"reference {case_ref!r} belonged to a purged case and stays reserved: "
                     "choose another",)


class CaseNotFoundError(StorageError, LookupError):
    """No (live) case under that reference."""


class StaleVersionError(StorageError):
    """An edit that started from a version that is no longer the current one."""

    def __init__(self, case_ref: str, *, base_version: int, current_version: int) -> None:
        super().__init__(f"case {case_ref!r} is at version {current_version}; "
                         f"the edit started from version {base_version}")
        self.case_ref = case_ref
        self.base_version = base_version
        self.current_version = current_version

"""Safe files for the cohort commands: checks before reading, all-or-nothing writes, clean errors.

* :func:`check_source` and :func:`check_targets` run before anything is read or written: the
  input must be a file; every output's directory must exist and be writable; no output may be an
  input (the same file by inode, through links and ``..``), and no two outputs may be one file.
* :func:`replacing` writes an output to a temporary file in the target's directory, named
  ``.<name>.<random>.spinemets-partial``, and renames it over the target (``os.replace``) only
  when the whole run succeeded; on failure the temporary file is removed and an existing file of
  the target's name is left as it was. A process killed mid-run (SIGKILL, power loss) can leave
  the temporary file behind: its name says what it is, and it is safe to delete.
* :func:`read_failure` and :func:`located` turn what a reader raises (Arrow, OS, Unicode errors,
  an :class:`InputError` naming a column or line) into one :class:`InputError` line that names the
  file (and the column or line) and says what to do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from spinemets.errors import InputError, ProblemDetail

__all__ = [
    "PARTIAL_SUFFIX",
    "check_source",
    "check_targets",
    "located",
    "read_failure",
    "replacing",
    "same_file",
    "save_text",
    "write_failure",
]

#: Ending of the temporary files outputs are written to before they are renamed into place.
PARTIAL_SUFFIX = ".spinemets-partial"

_ADVICE = {
    "parquet": "check that the file was copied completely, or export it again as Parquet",
    "csv": "save it as UTF-8 CSV text with one header line",
    "jsonl": "save it as UTF-8 text with one JSON object per line",
}


def _detail(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for one line of output."""
    if isinstance(exc, UnicodeDecodeError):
        return f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start} is not UTF-8"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "".join(c if c.isprintable() else "?" for c in lines[0]) if lines else \
        type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _error(path: Path | str, message: str, *, role: str = "input") -> InputError:
    """One problem of ``role`` (``input``, ``--out``...): the path, then what is wrong.

    The path goes in the message, not the field name, so a long path is shown whole.
    """
    return InputError([ProblemDetail(role, f"{path} {message}")])


def check_source(path: Path, *, directory_ok: bool = False) -> None:
    """Refuse an input that is missing, or a directory (unless ``directory_ok``).

    Parameters
    ----------
    path : Path
        The input.
    directory_ok : bool
        Accept a directory (Spark reads a directory of part files).

    Raises
    ------
    InputError
        Naming the file and what to do.
    """
    if not path.exists():
        raise _error(path, "does not exist; check the path")
    if path.is_dir() and not directory_ok:
        raise _error(path, "is a directory; give one cohort file (.parquet, .csv or .jsonl), "
                     "or use --engine spark for a directory of Parquet files")
    if not path.is_dir() and not os.access(path, os.R_OK):
        raise _error(path, "cannot be read (permission denied); check its permissions")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths are one file: by inode when both exist, else by resolved path."""
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_targets(sources: Sequence[Path], targets: Sequence[tuple[str, Path]]) -> None:
    """Refuse outputs that would overwrite an input or each other, or cannot be written.

    Parameters
    ----------
    sources : sequence of Path
        The inputs of the run.
    targets : sequence of (option, Path)
        Each output and the option that names it (``--out``, ``--problems``), for the message.

    Raises
    ------
    InputError
        Naming the output, the reason and what to do.
    """
    for i, (option, target) in enumerate(targets):
        for source in sources:
            if same_file(source, target):
                raise _error(target, f"is the input file {source}; choose another output "
                             "file (the input is never overwritten)", role=option)
        for other_option, other in targets[:i]:
            if same_file(other, target):
                raise _error(target, f"is also {other_option}; choose different files",
                             role=option)
        if target.is_dir():
            raise _error(target, "is a directory; give a file name inside it", role=option)
        parent = target.absolute().parent
        if not parent.is_dir():
            raise _error(target, f"cannot be written: the directory {parent} does not exist; "
                         f"create it or choose another {option}", role=option)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise _error(target, f"cannot be written: the directory {parent} is not writable; "
                         f"choose another {option} or change the directory's permissions",
                         role=option)


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A temporary file to write ``target`` to; renamed over ``target`` only on success.

    Parameters
    ----------
    target : Path
        The output file.

    Yields
    ------
    Path
        The temporary file (created empty, in the target's directory, so the rename is atomic).
        If the block raises, it is removed and ``target`` is untouched.
    """
    parent = target.absolute().parent
    temp = parent / f".{target.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}"
    try:
        os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        raise _error(target, f"cannot be written ({_detail(exc)}); choose another directory",
                     role="output") from exc
    try:
        yield temp
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise _error(target, f"cannot be written ({_detail(exc)}); choose another output",
                     role="output") from exc


def read_failure(path: Path, fmt: str, exc: BaseException, *, rows_read: int = 0
                 ) -> InputError:
    """One-line error for a file the reader could not read.

    Parameters
    ----------
    path : Path
        The input.
    fmt : str
        ``parquet``, ``csv`` or ``jsonl``.
    exc : BaseException
        What the reader raised.
    rows_read : int
        Rows read before the failure (named when some were).

    Returns
    -------
    InputError
        Naming the file, what went wrong, where, and what to do.
    """
    where = f" after row {rows_read:,}" if rows_read else ""
    if isinstance(exc, UnicodeDecodeError):
        what = "is not UTF-8 text"
    elif fmt == "parquet":
        what = "is not a readable Parquet file"
    elif fmt == "csv":
        what = "cannot be read as CSV"
    else:
        what = "cannot be read as JSON Lines"
    if not rows_read and path.stat().st_size == 0:
        what, where = "is empty", ""
    return _error(path, f"{what}{where} ({_detail(exc)}); {_ADVICE[fmt]}")


def write_failure(path: Path, exc: BaseException) -> InputError:
    """One-line error for an output that could not be written (disk full, a type CSV lacks)."""
    return _error(path, f"cannot be written ({_detail(exc)}); check the free space and "
                  "permissions of its directory", role="output")


def located(exc: InputError, path: Path) -> InputError:
    """The problems of ``exc`` (a column, a JSON line, the file itself) placed in ``path``.

    Problems already placed (field ``input``) are kept as they are.
    """
    out: list[ProblemDetail] = []
    for p in exc.problems:
        if p.field == "input":
            out.append(p)
            continue
        if p.field in {"", "path"}:
            where = str(path)
        elif p.field == "line":
            where = f"{path}, line {p.value}"
        else:
            where = f"{path}, column {p.field}"
        out.append(ProblemDetail("input", f"{where}: {p.message}", None, p.allowed))
    return InputError(out)


def save_text(text: str, path: Path, *, inputs: Sequence[Path] = ()) -> None:
    """Write a text output (a validation report) all at once, never over one of ``inputs``.

    Parameters
    ----------
    text : str
        The content (written as UTF-8).
    path : Path
        The output file; written under a temporary name and renamed into place.
    inputs : sequence of Path
        Files the output must not be.

    Raises
    ------
    InputError
        ``path`` is an input, a directory, in a missing or read-only directory, or cannot be
        written.
    """
    check_targets(inputs, [("--out", path)])
    with replacing(path) as partial:
        try:
            partial.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise write_failure(path, exc) from exc

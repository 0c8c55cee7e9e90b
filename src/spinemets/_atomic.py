"""Atomic, same-file-refusing file output (every CLI command and backup writes through it).

:func:`write_output` refuses an output that is one of the command's inputs (same path, a
symlink to it or a hard link of it), writes to a temporary file in the output's directory
(created 0600), flushes it to disk and only then renames it over the output. A full disk, a
file-size limit or an interrupted run leaves the output as it was (absent or the old file),
never a truncated one. Every failure is one line (:class:`OutputError`), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from spinemets.errors import SpinemetsError

__all__ = ["OutputError", "atomic_path", "check_output", "same_file", "write_output"]


class OutputError(SpinemetsError):
    """An output that cannot (or must not) be written; the message says why."""


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (path, symlink or hard link)."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output(output: Path, inputs: Iterable[Path | str] = ()) -> None:
    """Refuse an output that is a directory or the same file as one of ``inputs``."""
    if "\x00" in str(output):
        raise OutputError("output path contains a NUL character")
    if output.is_dir():
        raise OutputError(f"{output} is a directory: give a file name")
    for source in inputs:
        if str(source) == "-":
            continue
        if same_file(output, Path(source)):
            raise OutputError(f"{output} is the same file as the input {source}: refusing to "
                              "overwrite an input (choose another output file)")
    parent = output.parent if str(output.parent) else Path()
    if not parent.is_dir():
        raise OutputError(f"cannot write {output}: directory {parent} does not exist")


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


@contextlib.contextmanager
def atomic_path(output: Path, *, inputs: Iterable[Path | str] = (),
                overwrite: bool = True, mode: int = 0o600) -> Iterator[Path]:
    """A temporary path next to ``output`` that becomes ``output`` if the block succeeds.

    For writers that need a file name (SQLite backups, ``pg_dump``). The temporary file is
    removed on any error. ``overwrite=False`` refuses an existing output, atomically.
    """
    check_output(output, inputs)
    if not overwrite and (output.exists() or output.is_symlink()):
        raise OutputError(f"{output} exists: choose a new file")
    parent = output.parent if str(output.parent) else Path()
    try:
        handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part",
                                        dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {_reason(exc)}") from exc
    os.close(handle)
    temp = Path(name)
    try:
        os.chmod(temp, mode)
        yield temp
        _fsync(temp)
        if overwrite:
            os.replace(temp, output)
        else:
            os.link(temp, output)  # fails if output appeared meanwhile: never overwrites
            temp.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {_reason(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_output(output: Path, payload: bytes | str | Callable[[Path], None], *,
                 inputs: Iterable[Path | str] = (), overwrite: bool = True,
                 mode: int = 0o600) -> None:
    """Write ``payload`` (bytes, text as UTF-8, or a function writing a path) to ``output``.

    Atomic and same-file-refusing (see the module docstring); :class:`OutputError` on failure.
    """
    with atomic_path(output, inputs=inputs, overwrite=overwrite, mode=mode) as temp:
        if callable(payload):
            payload(temp)
            return
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        with temp.open("wb") as handle:
            handle.write(data)
            handle.flush()

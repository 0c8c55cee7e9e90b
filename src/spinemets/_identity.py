"""Values remembered per object identity (the ranking of unknowns' per-lesion memos).

The ranking of unknowns plans many variants of one case that share its validated, immutable
objects (each value tried validates only the section it changes). Work that depends on such
objects (a lesion's scores and facts) is remembered per object *identity*, which costs a
dictionary look-up where hashing the objects by value would cost a walk over every field.
"""

from __future__ import annotations

from collections.abc import Hashable
from operator import is_
from typing import Generic, TypeVar

__all__ = ["IdentityMemo"]

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """Values remembered per tuple of objects, compared by identity, and an optional hashable
    part compared by value.

    An entry keeps its objects, so no other object can take their ids while it lives, and a
    hit checks each of them. Bounded: once ``size`` entries are held, all are forgotten before
    the next is kept. Safe to share between threads as a cache: a race computes a value twice
    or forgets it early, never returns another object's value.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[tuple[tuple[int, ...], Hashable], tuple[tuple[object, ...], V]] = {}

    def get(self, objects: tuple[object, ...], value: Hashable = ()) -> V | None:
        """The value kept for these very ``objects`` and ``value``, or None."""
        entry = self._entries.get((tuple(map(id, objects)), value))
        if entry is None:
            return None
        return entry[1] if all(map(is_, entry[0], objects)) else None

    def put(self, objects: tuple[object, ...], value: Hashable, result: V) -> V:
        """Keep ``result`` for ``objects`` and ``value``; returns it."""
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[(tuple(map(id, objects)), value)] = (objects, result)
        return result

    def clear(self) -> None:
        """Forget every entry (benchmarks time the cold path)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

"""IdentityMemo: values kept per the very objects given (and a value part), bounded."""

from __future__ import annotations

from spinemets._identity import IdentityMemo


def test_a_value_is_found_only_for_the_same_objects_and_value() -> None:
    memo: IdentityMemo[str] = IdentityMemo(8)
    a, b = [1, 2], [1, 2]  # equal, not the same object
    assert memo.put((a,), 0, "a") == "a"
    assert memo.get((a,), 0) == "a"
    assert memo.get((b,), 0) is None
    assert memo.get((a,), 1) is None
    memo.put((a, b), (), "ab")
    assert memo.get((a, b)) == "ab"
    assert memo.get((b, a)) is None


def test_an_entry_keeps_its_objects_so_their_ids_are_not_reused() -> None:
    memo: IdentityMemo[int] = IdentityMemo(1000)
    for turn in range(500):
        memo.put((object(),), (), turn)  # each object dropped by the caller at once
    held = [o for o, _ in memo._entries.values()]
    assert len({id(o) for (o,) in held}) == 500


def test_it_forgets_everything_when_full() -> None:
    memo: IdentityMemo[int] = IdentityMemo(3)
    keep = [object() for _ in range(4)]
    for i, o in enumerate(keep):
        memo.put((o,), (), i)
        assert len(memo) <= 3
    assert memo.get((keep[3],)) == 3
    assert memo.get((keep[0],)) is None
    memo.clear()
    assert len(memo) == 0

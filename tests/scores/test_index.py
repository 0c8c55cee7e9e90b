"""The registry index (``scores/_index.json``): current, equal to the registry, and ignored
whenever it does not match the files it was built from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spinemets.scores import _index, gen_index, registry


def test_committed_index_is_current() -> None:
    assert _index.INDEX.read_text(encoding="utf-8") == gen_index.text(), (
        "run: python -m spinemets.scores.gen_index")
    assert gen_index.main(["--check"]) == 0


def test_index_is_used_and_equals_the_registry() -> None:
    cached = _index._cached()
    assert cached is not None, "the committed index does not match the tables"
    assert cached == [defn.summary() for defn in registry().values()]
    assert _index.summaries() == cached


def _copy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the files the index is keyed on, with the module pointed at it."""
    package = tmp_path / "spinemets"
    for path in _index._sources():
        target = package / path.relative_to(_index._PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    index = package / "scores" / "_index.json"
    shutil.copyfile(_index.INDEX, index)
    monkeypatch.setattr(_index, "_PACKAGE", package)
    monkeypatch.setattr(_index, "INDEX", index)
    return package


def test_copied_sources_give_the_same_key(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = _index.source_key()
    package = _copy_package(tmp_path, monkeypatch)
    assert _index.source_key() == key
    sins = package / "scores" / "tables" / "sins.yaml"
    sins.write_bytes(sins.read_bytes().replace(b"\n", b"\r\n"))
    assert _index.source_key() == key  # line endings do not count
    assert _index._cached() is not None


@pytest.mark.parametrize("change", ["table", "new_table", "code", "catalogue", "missing"])
def test_index_ignored_when_a_source_changes(change: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    package = _copy_package(tmp_path, monkeypatch)
    if change == "table":
        with (package / "scores" / "tables" / "sins.yaml").open("a") as handle:
            handle.write("\n# edited\n")
    elif change == "new_table":
        (package / "scores" / "tables" / "zzz.yaml").write_text("slug: zzz\n")
    elif change == "code":
        with (package / "scores" / "_schema.py").open("a") as handle:
            handle.write("\n# edited\n")
    elif change == "catalogue":
        with (package / "knowledge" / "histology.yaml").open("a") as handle:
            handle.write("\n# edited\n")
    else:
        (package / "domain" / "_histology.py").unlink()
    assert _index._cached() is None
    # the listing then comes from the registry itself (the installed tables here)
    assert _index.summaries() == [defn.summary() for defn in registry().values()]


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"format": 0}',
                                     '{"format": 1, "key": null, "scores": []}'])
def test_unreadable_or_foreign_index_is_ignored(content: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "_index.json"
    index.write_text(content, encoding="utf-8")
    monkeypatch.setattr(_index, "INDEX", index)
    assert _index._cached() is None
    monkeypatch.setattr(_index, "INDEX", tmp_path / "absent.json")
    assert _index._cached() is None


def test_index_with_the_right_key_is_trusted(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The key is what decides: an index whose key matches is read as it is."""
    index = tmp_path / "_index.json"
    index.write_text(json.dumps({"format": _index.FORMAT, "key": _index.source_key(),
                                 "scores": [{"slug": "x"}]}), encoding="utf-8")
    monkeypatch.setattr(_index, "INDEX", index)
    assert _index.summaries() == [{"slug": "x"}]


def test_check_reports_a_stale_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "_index.json"
    monkeypatch.setattr(gen_index, "INDEX", index)
    assert gen_index.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert gen_index.main([]) == 0
    assert gen_index.main(["--check"]) == 0
    assert index.read_text(encoding="utf-8") == gen_index.text()

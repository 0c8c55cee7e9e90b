"""Test-suite plugins: golden cases collected from ``tests/cases/<slug>.yaml``.

Each golden file names its source (a worked example in the clinical spec) and lists cases with
inputs and the expected status, total/grade and band. Every case becomes one test item.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinemets.scores import score

GOLDEN_DIR = Path(__file__).parent / "cases"
NOT_GOLDEN = {"vignettes.yaml"}


class GoldenFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        assert data.get("source"), f"{self.path.name} must name its source"
        slug = data["score"]
        for case in data["cases"]:
            yield GoldenItem.from_parent(self, name=case["id"], slug=slug, case=case)


class GoldenItem(pytest.Item):
    def __init__(self, *, slug: str, case: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slug = slug
        self.case = case

    def runtest(self) -> None:
        result = score(self.slug, self.case["inputs"]).to_dict()
        for key, expected in self.case["expect"].items():
            actual = result["band"]["id"] if key == "band" and result["band"] else result.get(key)
            if key == "band" and result["band"] is None:
                actual = None
            assert actual == expected, (
                f"{self.slug} {self.name}: {key} is {actual!r}, expected {expected!r} "
                f"({self.case.get('source', '')})"
            )

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"golden {self.slug}: {self.name}"


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.File | None:
    if file_path.parent == GOLDEN_DIR and file_path.suffix == ".yaml" and (
        file_path.name not in NOT_GOLDEN
    ):
        return GoldenFile.from_parent(parent, path=file_path)
    return None


# In CI (.ci/run) nothing may be skipped for want of an installed tool: a skip of a test marked
# browser/postgres/spark becomes a failure when SPINEMETS_REQUIRE_<MARKER>=1.
_REQUIRE = {"browser": "SPINEMETS_REQUIRE_BROWSER", "postgres": "SPINEMETS_REQUIRE_POSTGRES",
            "spark": "SPINEMETS_REQUIRE_SPARK", "shared": "SPINEMETS_REQUIRE_SHARED",
            "oidc": "SPINEMETS_REQUIRE_OIDC"}

# Real test data (a real CT with vertebra masks, real FHIR bundles) lives only in ../shared beside
# the checkout; it is read from there and never copied into the repository. Tests that need it are
# marked ``shared`` and use the ``shared_dir`` fixture: outside CI they skip when it is absent; in
# CI (SPINEMETS_REQUIRE_SHARED=1) that skip is a failure.
SHARED_DIR = Path(
    os.environ.get("SPINEMETS_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared")
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` reference folder; skips (a failure in CI) when it is absent."""
    if not (SHARED_DIR / "clinical").is_dir():
        message = f"shared reference data not found at {SHARED_DIR}"
        if os.environ.get(_REQUIRE["shared"]) == "1":
            pytest.fail(f"{message} but {_REQUIRE['shared']}=1")
        pytest.skip(message)
    return SHARED_DIR


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped:
        return
    for marker, env in _REQUIRE.items():
        if item.get_closest_marker(marker) and os.environ.get(env) == "1":
            report.outcome = "failed"
            report.longrepr = f"{marker} test skipped but {env}=1: {report.longrepr}"

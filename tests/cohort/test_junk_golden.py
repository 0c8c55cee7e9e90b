"""The scores and the problems sidecar of a file with repeated and one-off junk stay as they were.

``data/junk_cohort.csv.gz`` is ``corrupt_table(synth_table(1200, 5), 0.04, 6, one_off=0.3)`` with
the text ``zz-again`` written into six random rows of ``primary``, ``kps``, ``level``,
``previous_chemotherapy`` and ``albumin_g_per_dl`` (a "one-off" text seen again in other batches
and by several scores). The expected outputs were written by the kernel before the reasons of
rejected cells were shared between scores (issue 12 §3); any optimisation of the bad-cell path
must leave them byte for byte as they are, whatever the batch size and the number of threads.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from spinemets.cohort import score_file

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def junk_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("junk") / "junk.csv"
    path.write_bytes(gzip.decompress((DATA / "junk_cohort.csv.gz").read_bytes()))
    return path


@pytest.mark.parametrize(("batch_size", "workers"), [(256, 1), (256, 2), (100, 2), (4096, 1)])
def test_scores_and_sidecar_of_junk_file_are_unchanged(junk_csv: Path, tmp_path: Path,
                                                        batch_size: int, workers: int) -> None:
    out = tmp_path / "scored.csv"
    summary = score_file(junk_csv, out, batch_size=batch_size, workers=workers, progress=False)
    expected_problems = gzip.decompress((DATA / "junk_cohort.problems.csv.gz").read_bytes())
    problems = (tmp_path / "scored.problems.csv").read_bytes()
    assert problems.splitlines() == expected_problems.splitlines()  # a readable diff first
    assert problems == expected_problems
    assert out.read_bytes() == gzip.decompress((DATA / "junk_cohort.scored.csv.gz").read_bytes())
    assert summary.problems == expected_problems.count(b"\n") - 1

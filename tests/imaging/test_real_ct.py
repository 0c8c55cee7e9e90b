"""The real TotalSegmentator example CT (read from ../shared, never copied): L1-L5 body heights
within one voxel (3 mm) of that tool's own spine report, whatever the voxel order, label
numbering or file format (NIfTI or a DICOM series written from the same volume)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.imaging._dicom import write_series

from spinemets.imaging import measure_files
from spinemets.imaging._io import read_ct

pytestmark = pytest.mark.shared

LUMBAR = ("L1", "L2", "L3", "L4", "L5")
POSITIONS = ("posterior", "middle", "anterior")
VOXEL_MM = 3.0


@pytest.fixture(scope="module")
def example(shared_dir: Path) -> Path:
    return shared_dir / "imaging" / "totalsegmentator-example"


@pytest.fixture(scope="module")
def reference(example: Path) -> dict[str, dict[str, float]]:
    results = json.loads((example / "spine_report" / "spine_report.json").read_text())["results"]
    return {level: {p: results[f"vertebrae_{level}_height_{p}_mm"] for p in POSITIONS}
            for level in LUMBAR}


@pytest.fixture(scope="module")
def baseline(example: Path) -> dict[str, dict[str, float]]:
    run = measure_files(example / "example_ct.nii.gz", example / "spine_report" / "totalseg.nii.gz",
                        body_mask=example / "spine_report" / "totalseg_vertebrae_pp_refined.nii.gz")
    return _heights(run.document)


def _heights(document: dict) -> dict[str, dict[str, float]]:
    return {e["level"]: e["heights_mm"] for e in document["levels"] if e["level"] in LUMBAR}


def test_lumbar_heights_within_one_voxel_of_the_reference_report(baseline, reference):
    for level in LUMBAR:
        for p in POSITIONS:
            assert abs(baseline[level][p] - reference[level][p]) <= VOXEL_MM + 1e-6, (
                level, p, baseline[level][p], reference[level][p])


def test_levels_outside_the_field_of_view_are_clipped(example):
    run = measure_files(example / "example_ct.nii.gz", example / "spine_report" / "totalseg.nii.gz",
                        body_mask=example / "spine_report" / "totalseg_vertebrae_pp_refined.nii.gz")
    status = {e["level"]: e["status"] for e in run.document["levels"]}
    assert status["T12"] == "clipped"
    assert all(status[level] == "measured" for level in LUMBAR)
    assert run.document["source"]["ct"]["file"] == "example_ct.nii.gz"
    text = json.dumps(run.document)
    assert "PatientName" not in text
    assert "Unknown" not in text


def _reorient(image, ornt):
    return image.as_reoriented(ornt)


def test_same_heights_with_flipped_axes_and_reindexed_labels(example, baseline, tmp_path):
    ornt = np.array([[2, -1], [0, 1], [1, -1]])  # axes permuted and two of them flipped
    ct = _reorient(nib.load(example / "example_ct.nii.gz"), ornt)
    mask = _reorient(nib.load(example / "spine_report" / "totalseg.nii.gz"), ornt)
    body = _reorient(nib.load(example / "spine_report" / "totalseg_vertebrae_pp_refined.nii.gz"),
                     ornt)
    assert nib.aff2axcodes(ct.affine) != ("R", "A", "S")
    labels = np.asarray(mask.dataobj)
    new = np.zeros(labels.shape, dtype=np.uint16)
    names = {}
    for n, old in enumerate(sorted(int(v) for v in np.unique(labels) if v)):
        index = 1000 - 7 * n  # a different numbering, in the opposite order
        new[labels == old] = index
        names[str(index)] = f"vertebrae_{_NAMES[old]}" if old in _NAMES else f"other_{old}"
    nib.save(ct, tmp_path / "ct.nii.gz")
    nib.save(nib.Nifti1Image(new, mask.affine), tmp_path / "mask.nii.gz")  # no label table
    nib.save(body, tmp_path / "body.nii.gz")
    (tmp_path / "labels.json").write_text(json.dumps(names))
    run = measure_files(tmp_path / "ct.nii.gz", tmp_path / "mask.nii.gz",
                        label_map=tmp_path / "labels.json", body_mask=tmp_path / "body.nii.gz")
    assert run.document["grid"]["orientation_in_file"] != "RAS"
    assert run.document["source"]["mask"]["names_from"] == "label map labels.json"
    heights = _heights(run.document)
    for level in LUMBAR:
        for p in POSITIONS:
            assert heights[level][p] == pytest.approx(baseline[level][p], abs=1e-6)


_NAMES = {26: "S1", 27: "L5", 28: "L4", 29: "L3", 30: "L2", 31: "L1", 32: "T12", 33: "T11"}


def test_same_heights_from_a_dicom_series_of_the_same_volume(example, baseline, tmp_path):
    ct, _ = read_ct(example / "example_ct.nii.gz")
    uid = write_series(tmp_path / "series", ct)
    run = measure_files(tmp_path / "series", example / "spine_report" / "totalseg.nii.gz",
                        body_mask=example / "spine_report" / "totalseg_vertebrae_pp_refined.nii.gz")
    source = run.document["source"]["ct"]
    frame = source.pop("frame_of_reference_uid")
    assert frame and source == {"kind": "dicom", "series_uid": uid, "files": ct.shape[2],
                                "orientation": "PLS"}  # rows run posterior, columns left
    assert "Phantom" not in json.dumps(run.document)  # no patient name in the output
    heights = _heights(run.document)
    for level in LUMBAR:
        for p in POSITIONS:
            assert heights[level][p] == pytest.approx(baseline[level][p], abs=1e-6)

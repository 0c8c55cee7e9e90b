"""DICOM SEG masks (highdicom): segments found by name and placed on the CT grid through the
SEG's own geometry give the same measurements as the NIfTI path; unnamed segments, another
frame of reference, an off-grid SEG and a SEG without its DICOM CT are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from tests.imaging._dicom import write_seg, write_series
from tests.imaging._phantoms import build, save_nifti
from typer.testing import CliRunner

from spinemets.cli import app
from spinemets.errors import InputError
from spinemets.imaging import Volume, measure_files
from spinemets.imaging._io import read_ct, read_mask

runner = CliRunner()


def _coarse(volume: Volume) -> Volume:
    """Every other voxel (1 mm): the same phantom, written as DICOM in about a second."""
    return Volume(np.ascontiguousarray(volume.data[::2, ::2, ::2]),
                  tuple(2 * s for s in volume.spacing_mm), volume.origin_mm, "RAS")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("seg")
    phantom = build(["L1", "L2", "L3", "L4"], wedge={"L2": 0.35}, crush={"L3": 0.6})
    ct, labels = _coarse(phantom.ct), _coarse(phantom.labels)
    save_nifti(folder / "ct.nii.gz", ct)
    save_nifti(folder / "mask.nii.gz", labels, names=phantom.label_map)
    write_series(folder / "series", ct)
    write_seg(folder / "seg.dcm", folder / "series", labels, phantom.label_map)
    l2 = next(k for k, v in phantom.label_map.items() if v == "vertebrae_L2")
    lesion = np.zeros(labels.data.shape, dtype=np.uint8)
    lesion[:, :, :][np.asarray(labels.data) == l2] = 1
    lesion[: lesion.shape[0] // 2] = 0  # the left half of L2
    lesion_volume = Volume(lesion, labels.spacing_mm, labels.origin_mm, "RAS")
    save_nifti(folder / "lesion.nii.gz", lesion_volume)
    write_seg(folder / "lesion.dcm", folder / "series", lesion_volume, {1: "lesion"})
    return {p.name.split(".")[0] + ("_dcm" if p.name == "lesion.dcm" else ""): p
            for p in folder.iterdir()}


def _edited(files: dict[str, Path], tmp_path: Path, edit) -> Path:
    ds = pydicom.dcmread(files["seg"])
    edit(ds)
    ds.save_as(tmp_path / "edited.dcm")
    return tmp_path / "edited.dcm"


def test_seg_gives_the_same_measurements_as_nifti(files):
    nifti = measure_files(files["ct"], files["mask"]).document
    seg = measure_files(files["series"], files["seg"]).document
    assert [e["level"] for e in seg["levels"]] == ["L1", "L2", "L3", "L4"]
    assert seg["levels"] == nifti["levels"]  # heights, losses, grades, suggestions
    heights = {e["level"]: e["heights_mm"] for e in seg["levels"]}
    assert heights["L2"]["anterior"] < heights["L2"]["posterior"]  # the planted wedge
    assert seg["levels"][2]["genant_grade"] == 3  # the planted uniform crush (60 %)
    source = seg["source"]["mask"]
    assert source["kind"] == "dicom-seg" and source["segments"] == 4
    assert source["names_from"] == "DICOM SEG segment labels"
    assert source["referenced_series"] == [seg["source"]["ct"]["series_uid"]]
    assert "PHANTOM" not in json.dumps(seg)  # no patient identifier in the output


def test_lesion_seg_gives_the_same_hints_as_nifti(files):
    nifti = measure_files(files["ct"], files["mask"], lesion_mask=files["lesion"]).document
    seg = measure_files(files["series"], files["seg"], lesion_mask=files["lesion_dcm"]).document
    assert seg["levels"] == nifti["levels"]
    l2 = next(e for e in seg["levels"] if e["level"] == "L2")
    assert set(l2["suggestions"]) > {"collapse"}  # the lesion hints are there


def test_segment_description_names_a_vertebra_when_the_label_does_not(files, tmp_path):
    def edit(ds):
        for item in ds.SegmentSequence:
            item.SegmentDescription = item.SegmentLabel
            item.SegmentLabel = f"Segment {item.SegmentNumber}"

    seg = measure_files(files["series"], _edited(files, tmp_path, edit)).document
    assert [e["level"] for e in seg["levels"]] == ["L1", "L2", "L3", "L4"]


def test_unnamed_segment_is_refused(files, tmp_path):
    def edit(ds):
        ds.SegmentSequence[1].SegmentLabel = ""

    with pytest.raises(InputError, match=r"segment 2 of edited\.dcm has no SegmentLabel"):
        measure_files(files["series"], _edited(files, tmp_path, edit))


def test_other_frame_of_reference_is_refused(files, tmp_path):
    def edit(ds):
        ds.FrameOfReferenceUID = pydicom.uid.generate_uid()

    with pytest.raises(InputError, match="another frame of reference"):
        measure_files(files["series"], _edited(files, tmp_path, edit))


def test_seg_off_the_ct_grid_is_refused(files, tmp_path):
    def edit(ds):
        measures = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
        measures.PixelSpacing = [float(v) * 1.5 for v in measures.PixelSpacing]

    with pytest.raises(InputError, match="not on the CT's voxel grid"):
        measure_files(files["series"], _edited(files, tmp_path, edit))


def test_seg_needs_the_dicom_ct(files):
    with pytest.raises(InputError, match="give the DICOM CT series folder"):
        measure_files(files["ct"], files["seg"])


def test_label_map_with_a_seg_is_refused(files, tmp_path):
    (tmp_path / "labels.json").write_text('{"1": "vertebrae_L1"}')
    with pytest.raises(InputError, match="names its segments itself"):
        measure_files(files["series"], files["seg"], label_map=tmp_path / "labels.json")


def test_a_ct_slice_is_not_a_seg(files):
    ct_slice = next(iter(sorted(files["series"].iterdir())))
    with pytest.raises(InputError, match="not a Segmentation"):
        measure_files(files["series"], ct_slice)


def test_cli_refuses_in_one_line(files, tmp_path):
    def edit(ds):
        ds.FrameOfReferenceUID = pydicom.uid.generate_uid()

    result = runner.invoke(app, ["imaging", "measure", str(files["series"]),
                                 str(_edited(files, tmp_path, edit))])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mask: edited.dcm belongs to another")
    assert "Traceback" not in result.output


def test_cli_measures_a_seg(files):
    result = runner.invoke(app, ["imaging", "measure", str(files["series"]), str(files["seg"]),
                                 "--format", "text"])
    assert result.exit_code == 0, result.output
    assert " L3  measured" in result.output


@pytest.mark.shared
def test_real_ct_same_heights_from_dicom_series_and_seg(shared_dir: Path, tmp_path: Path):
    example = shared_dir / "imaging" / "totalsegmentator-example"
    report = example / "spine_report"
    baseline = measure_files(example / "example_ct.nii.gz", report / "totalseg.nii.gz",
                             body_mask=report / "totalseg_vertebrae_pp_refined.nii.gz").document
    ct, _ = read_ct(example / "example_ct.nii.gz")
    write_series(tmp_path / "series", ct)
    for name in ("totalseg", "totalseg_vertebrae_pp_refined"):
        mask = read_mask(report / f"{name}.nii.gz")
        present = tuple(int(v) for v in np.unique(mask.volume.data) if v)
        keep = tuple(k for k in present if mask.label_map[k].startswith("vertebrae_"))
        write_seg(tmp_path / f"{name}.dcm", tmp_path / "series", mask.volume, mask.label_map,
                  keep=keep)
    seg = measure_files(tmp_path / "series", tmp_path / "totalseg.dcm",
                        body_mask=tmp_path / "totalseg_vertebrae_pp_refined.dcm").document
    assert seg["source"]["body_mask"]["kind"] == "dicom-seg"
    lumbar = ("L1", "L2", "L3", "L4", "L5")
    expected = {e["level"]: e for e in baseline["levels"] if e["level"] in lumbar}
    got = {e["level"]: e for e in seg["levels"] if e["level"] in lumbar}
    assert set(got) == set(lumbar)
    for level in lumbar:
        assert got[level]["status"] == "measured"
        for p in ("posterior", "middle", "anterior"):
            assert got[level]["heights_mm"][p] == pytest.approx(
                expected[level]["heights_mm"][p], abs=1e-6)

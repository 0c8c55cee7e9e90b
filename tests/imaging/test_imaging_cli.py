"""``spinemets imaging measure``: JSON, text and overlay output; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from tests.imaging._phantoms import build, save_nifti
from typer.testing import CliRunner

from spinemets.cli import app
from spinemets.imaging import Volume

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("phantom")
    phantom = build(["T12", "L1", "L2", "L3", "L4"], wedge={"L2": 0.6}, posterior=True)
    save_nifti(folder / "ct.nii.gz", phantom.ct)
    save_nifti(folder / "mask.nii.gz", phantom.labels, names=phantom.label_map)
    save_nifti(folder / "bodies.nii.gz", phantom.bodies, names=phantom.label_map)
    save_nifti(folder / "unnamed.nii.gz", phantom.labels)
    (folder / "labels.json").write_text(json.dumps(
        {str(k): v for k, v in phantom.label_map.items()}))
    return {p.name.split(".")[0]: p for p in folder.iterdir()}


def _invoke(*args: object):
    return runner.invoke(app, ["imaging", "measure", *(str(a) for a in args)])


def test_json_output(files):
    result = _invoke(files["ct"], files["mask"], "--body-mask", files["bodies"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["format"] == "spinemets-imaging/1"
    l2 = next(e for e in document["levels"] if e["level"] == "L2")
    assert l2["genant_grade"] == 3
    assert l2["suggestions"]["collapse"]["value"] == "over_50"
    assert l2["suggestions"]["collapse"]["confirm"] is True
    assert document["source"]["mask"] == {"file": "mask.nii.gz",
                                          "names_from": "header label table"}


def test_text_output_overlay_and_file(files, tmp_path):
    out, png = tmp_path / "out.txt", tmp_path / "overlay.png"
    result = _invoke(files["ct"], files["unnamed"], "--label-map", files["labels"],
                     "--format", "text", "-o", out, "--overlay", png)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "L2" in text and ">50% collapse" in text and "confirm" in text
    assert "UNVERIFIED" in text
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.width > 400


@pytest.mark.parametrize(("args", "message"), [
    (("ct", "unnamed"), "have no names"),
    (("ct", "missing"), "no such file"),
    (("ct", "labels"), "not a readable NIfTI"),
])
def test_errors_are_one_line(files, tmp_path, args, message):
    paths = [files.get(a, tmp_path / f"{a}.nii.gz") for a in args]
    result = _invoke(*paths)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unnamed_label_value_is_refused(files, tmp_path):
    names = json.loads(files["labels"].read_text())
    names.pop(next(iter(names)))
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(names))
    result = _invoke(files["ct"], files["unnamed"], "--label-map", partial)
    assert result.exit_code == 2
    assert "have no name" in result.output


def test_output_may_not_overwrite_an_input(files):
    result = _invoke(files["ct"], files["mask"], "-o", files["mask"])
    assert result.exit_code == 2
    assert "one of the input files" in result.output


def test_mask_on_another_grid_is_refused(files, tmp_path):
    image = nib.load(files["mask"])
    small = nib.Nifti1Image(np.asarray(image.dataobj)[:-2], image.affine, image.header)
    nib.save(small, tmp_path / "small.nii.gz")
    result = _invoke(files["ct"], tmp_path / "small.nii.gz")
    assert result.exit_code == 2
    assert "not on the CT's voxel grid" in result.output


def test_oblique_ct_is_refused(files, tmp_path):
    image = nib.load(files["ct"])
    affine = image.affine.copy()
    turn = np.radians(15)
    affine[:2, :2] = affine[:2, :2] @ np.array([[np.cos(turn), -np.sin(turn)],
                                                [np.sin(turn), np.cos(turn)]])
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), affine), tmp_path / "oblique.nii.gz")
    result = _invoke(tmp_path / "oblique.nii.gz", files["mask"])
    assert result.exit_code == 2
    assert "oblique" in result.output


def test_volume_is_public():
    assert Volume.__name__ == "Volume"

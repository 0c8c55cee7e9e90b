"""DICOM series read as CT: the same voxels as the NIfTI they were written from, whatever the
file order; broken series refused with one clear message."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from tests.imaging._dicom import write_series

from spinemets.errors import InputError
from spinemets.imaging import Volume
from spinemets.imaging._io import read_ct


@pytest.fixture
def volume() -> Volume:
    data = np.random.default_rng(1).integers(-1000, 1500, size=(12, 10, 8)).astype(np.int16)
    return Volume(data, (0.7, 0.8, 2.5), (-40.0, 12.5, 300.0), "RAS")


def test_series_reads_back_the_same_voxels(volume, tmp_path):
    uid = write_series(tmp_path / "s", volume)
    (tmp_path / "s" / "README.txt").write_text("not DICOM")  # skipped
    ct, source = read_ct(tmp_path / "s")
    assert source["series_uid"] == uid and source["files"] == 8
    assert np.array_equal(ct.data, volume.data)
    assert ct.spacing_mm == pytest.approx(volume.spacing_mm)
    assert ct.origin_mm == pytest.approx(volume.origin_mm)


def test_missing_slice_is_refused(volume, tmp_path):
    write_series(tmp_path / "s", volume, shuffle=False)
    (tmp_path / "s" / "slice_0003.dcm").unlink()
    with pytest.raises(InputError, match="not evenly spaced"):
        read_ct(tmp_path / "s")


def test_two_series_in_one_folder_are_refused(volume, tmp_path):
    write_series(tmp_path / "a", volume)
    write_series(tmp_path / "b", volume)
    for f in (tmp_path / "b").iterdir():
        shutil.move(f, tmp_path / "a" / f"b_{f.name}")
    with pytest.raises(InputError, match="2 series"):
        read_ct(tmp_path / "a")


def test_oblique_series_is_refused(volume, tmp_path):
    write_series(tmp_path / "s", volume)
    c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
    for f in (tmp_path / "s").iterdir():
        ds = pydicom.dcmread(f)
        ds.ImageOrientationPatient = [c, s, 0, -s, c, 0]
        ds.save_as(f)
    with pytest.raises(InputError, match="oblique"):
        read_ct(tmp_path / "s")


def test_folder_without_dicom_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no DICOM image"):
        read_ct(tmp_path)

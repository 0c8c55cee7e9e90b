"""Reading CTs and masks from files (the imperative shell around the measurement core).

CT: a NIfTI file (``.nii`` / ``.nii.gz``, nibabel) or a folder holding one DICOM CT series
(pydicom; uncompressed pixel data). Masks: NIfTI with the label table in a header extension, or
with a label-map JSON. Only non-identifying provenance is kept (file names, series UID).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinemets.errors import InputError
from spinemets.imaging._labels import MAX_TABLE_BYTES, label_map_from_json, label_map_from_xml
from spinemets.imaging._volume import Volume, canonical

__all__ = ["LabelledMask", "read_ct", "read_label_map", "read_mask"]

#: Largest image read (voxels), about 512 x 512 x 1150: the measurement stays within 2 GB.
MAX_VOXELS = 300_000_000
_MAX_FILES = 5000


@dataclass(frozen=True, slots=True)
class LabelledMask:
    """A mask volume (RAS order) with its label names and where the names came from."""

    volume: Volume
    label_map: dict[int, str]
    names_from: str  # "header label table" | "label map <file>"
    file: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _nifti(path: Path, *, field: str) -> Any:
    import nibabel as nib  # noqa: PLC0415 - optional (imaging) dependency

    if not path.is_file():
        raise InputError.single(field, f"no such file: {path.name}")
    try:
        image: Any = nib.load(str(path))
    except Exception as exc:  # nibabel raises many types for a file that is not NIfTI
        raise InputError.single(field, f"{path.name} is not a readable NIfTI image "
                                       f"({type(exc).__name__})") from None
    if not hasattr(image, "affine") or len(image.shape) not in (3, 4):
        raise InputError.single(field, f"{path.name} is not a 3-D NIfTI image")
    voxels = 1
    for n in image.shape:
        voxels *= int(n)
    if voxels > MAX_VOXELS:
        raise InputError.single(field, f"{path.name} has {voxels:,} voxels; at most "
                                       f"{MAX_VOXELS:,} are read")
    return image


def _dataobj(image: Any, path: Path, *, field: str, integer: bool) -> Any:
    import numpy as np  # noqa: PLC0415

    try:
        if integer and image.dataobj.slope in (1.0, None) and image.dataobj.inter in (0.0, None):
            data = np.asanyarray(image.dataobj)
        else:
            data = np.asanyarray(image.dataobj)
            if not integer and data.dtype == np.float64:
                data = data.astype(np.float32)
    except (OSError, EOFError, ValueError, Exception) as exc:  # truncated or corrupt file
        raise InputError.single(field, f"{path.name} could not be read "
                                       f"({type(exc).__name__}: the file may be truncated)"
                                ) from None
    return data


def read_ct(path: Path) -> tuple[Volume, dict[str, Any]]:
    """The CT in RAS order and its provenance (file name or series UID, never patient data)."""
    import numpy as np  # noqa: PLC0415

    if path.is_dir():
        return _read_dicom_series(path)
    image = _nifti(path, field="ct")
    data = _dataobj(image, path, field="ct", integer=False)
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise InputError.single("ct", f"{path.name} holds NaN or infinite values")
    volume = canonical(data, image.affine, field="ct")
    return volume, {"kind": "nifti", "file": path.name, "sha256": _sha256(path),
                    "orientation": volume.orientation}


def read_label_map(path: Path) -> dict[int, str]:
    """A label-map JSON file ``{"index": "name"}``."""
    if not path.is_file():
        raise InputError.single("label_map", f"no such file: {path.name}")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise InputError.single("label_map", f"{path.name} is larger than "
                                             f"{MAX_TABLE_BYTES:,} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.single("label_map", f"cannot read {path.name} ({exc})") from None
    return label_map_from_json(text, field="label_map")


def _header_labels(image: Any, *, field: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for extension in getattr(image.header, "extensions", []):
        out.update(label_map_from_xml(bytes(extension.get_content()), field=field))
    return out


def read_mask(path: Path, *, label_map: Path | None = None, field: str = "mask"
              ) -> LabelledMask:
    """A label mask with its names: from ``label_map`` when given, else from the header.

    Refused: a mask whose labels have no names. (A label value that the names do not cover is
    refused by the measurement, which lists the values present in the same pass.)
    """
    import numpy as np  # noqa: PLC0415

    image = _nifti(path, field=field)
    data = _dataobj(image, path, field=field, integer=True)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.rint(data)):
            raise InputError.single(field, f"{path.name} holds non-integer values; a label "
                                           "mask holds whole-number label indexes")
        data = data.astype(np.int32)
    if label_map is not None:
        names, source = read_label_map(label_map), f"label map {label_map.name}"
    else:
        names, source = _header_labels(image, field=field), "header label table"
    if not names:
        raise InputError.single(field, f"the labels of {path.name} have no names: give "
                                       "--label-map FILE (JSON {\"index\": \"vertebrae_L1\", "
                                       "...}) or a mask with the label table in its header")
    volume = canonical(data, image.affine, field=field)
    return LabelledMask(volume=volume, label_map=names, names_from=source, file=path.name)


def _dicom_slices(folder: Path) -> list[Any]:
    """The image slices of the folder's one series (other files skipped)."""
    import pydicom  # noqa: PLC0415

    files = [p for p in sorted(folder.iterdir()) if p.is_file()][: _MAX_FILES + 1]
    if len(files) > _MAX_FILES:
        raise InputError.single("ct", f"the folder holds more than {_MAX_FILES} files")
    slices = []
    for p in files:
        try:
            ds = pydicom.dcmread(str(p), stop_before_pixels=False)
        except Exception:  # not DICOM (a README, a thumbnail): skipped
            continue
        if "PixelData" in ds and "ImagePositionPatient" in ds:
            slices.append(ds)
    if not slices:
        raise InputError.single("ct", f"{folder.name} holds no DICOM image with a position")
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in slices}
    if len(series) != 1:
        raise InputError.single("ct", f"{folder.name} holds {len(series)} series; put one CT "
                                      "series in the folder")
    return slices


def _read_dicom_series(folder: Path) -> tuple[Volume, dict[str, Any]]:
    import numpy as np  # noqa: PLC0415

    slices = _dicom_slices(folder)
    frames = {str(ds.get("FrameOfReferenceUID", "") or "") for ds in slices}
    if len(frames) != 1:
        raise InputError.single("ct", f"{folder.name}: the slices name {len(frames)} frames of "
                                      "reference; the series is refused")
    orientation = np.array([float(v) for v in slices[0].ImageOrientationPatient])
    row, col = orientation[:3], orientation[3:]
    normal = np.cross(row, col)
    slices.sort(key=lambda ds: float(np.dot(normal, [float(v) for v in
                                                     ds.ImagePositionPatient])))
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in slices])
    gaps = np.diff(positions @ normal)
    if len(slices) < 2 or np.any(gaps <= 1e-3) or np.ptp(gaps) > 0.01 * float(np.mean(gaps)):
        raise InputError.single("ct", f"{folder.name}: the slices are not evenly spaced "
                                      "(missing or duplicate slices); the series is refused")
    try:
        stack = np.stack([ds.pixel_array.astype(np.float32) * float(ds.get(
            "RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0)) for ds in slices],
            axis=-1)
    except Exception as exc:  # compressed without a decoder, or mismatched slice sizes
        raise InputError.single("ct", f"{folder.name}: pixel data could not be read "
                                      f"({type(exc).__name__})") from None
    dr, dc = (float(v) for v in slices[0].PixelSpacing)
    # pixel_array is [row, column]; voxel (i=row, j=column, k=slice) in LPS world:
    affine_lps = np.eye(4)
    affine_lps[:3, 0] = col * dr
    affine_lps[:3, 1] = row * dc
    affine_lps[:3, 2] = (positions[-1] - positions[0]) / (len(slices) - 1)
    affine_lps[:3, 3] = positions[0]
    to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    volume = canonical(stack, to_ras @ affine_lps, field="ct")
    source = {"kind": "dicom", "series_uid": str(slices[0].get("SeriesInstanceUID", "")),
              "files": len(slices), "orientation": volume.orientation}
    if frame := next(iter(frames)):
        source["frame_of_reference_uid"] = frame
    return volume, source


def read_binary(path: Path, *, field: str) -> Volume:
    """A binary mask (any non-zero voxel is inside), e.g. a lesion mask, in RAS order."""
    import numpy as np  # noqa: PLC0415

    image = _nifti(path, field=field)
    data = _dataobj(image, path, field=field, integer=True)
    return canonical(np.asarray(data) != 0, image.affine, field=field)

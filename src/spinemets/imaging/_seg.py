"""DICOM Segmentation (SEG) masks read onto the CT's voxel grid (highdicom).

A SEG names each of its segments (SegmentLabel, optionally SegmentDescription); a vertebra is
found by that NAME (``vertebrae_L1``), exactly as for a NIfTI label table. The segments are
placed on the CT grid through the SEG's own geometry (frame positions, orientation and pixel
spacing) after checking that SEG and CT share one frame of reference; a SEG whose voxels do not
fall on the CT's voxels is refused (it would need resampling). Only the SEG's series UID, its
referenced series and the segment names are kept as provenance, never patient data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from spinemets.errors import InputError
from spinemets.imaging._labels import level_of
from spinemets.imaging._volume import Volume

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["SEG_SOP_CLASSES", "is_dicom_file", "read_seg"]

#: Segmentation Storage and Label Map Segmentation Storage.
SEG_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"})
#: Largest SEG read: frames x rows x columns (decoded frames stay within about 1 GB).
MAX_FRAME_VOXELS = 300_000_000
_GRID_TOLERANCE = 1e-3  # in CT voxels


def is_dicom_file(path: Path) -> bool:
    """True for a file with the DICOM preamble (``DICM`` at byte 128)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _segment_names(seg: Any, *, field: str, name: str) -> dict[int, str]:
    """``{segment number: name}``; the name is the SegmentLabel, or the SegmentDescription when
    only that names a vertebra. A segment with neither is refused."""
    out: dict[int, str] = {}
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        label = str(getattr(description, "SegmentLabel", "") or "").strip()
        text = str(getattr(description, "SegmentDescription", "") or "").strip()
        if level_of(label) is None and text and level_of(text) is not None:
            label = text
        if not label:
            label = text
        if not label:
            raise InputError.single(field, f"segment {number} of {name} has no SegmentLabel or "
                                           "SegmentDescription; every segment must be named "
                                           "(e.g. vertebrae_L1)")
        out[int(number)] = label
    return out


def _ct_affine_lps(ct: Volume) -> npt.NDArray[np.float64]:
    import numpy as np  # noqa: PLC0415

    affine = np.eye(4)
    affine[:3, :3] = np.diag(ct.spacing_mm)
    affine[:3, 3] = ct.origin_mm
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # RAS voxel grid -> LPS world


def _placement(seg_affine: npt.NDArray[np.float64], seg_shape: tuple[int, ...], ct: Volume, *,
               field: str, name: str) -> tuple[list[int], list[slice]]:
    """SEG axis order on the CT axes and the CT index slices its voxels fall on."""
    import numpy as np  # noqa: PLC0415

    m = np.linalg.inv(_ct_affine_lps(ct)) @ np.asarray(seg_affine, dtype=np.float64)
    linear, offset = m[:3, :3], m[:3, 3]
    rounded, shift = np.rint(linear), np.rint(offset)
    off_grid = (not np.allclose(linear, rounded, atol=_GRID_TOLERANCE)
                or not np.allclose(offset, shift, atol=_GRID_TOLERANCE)
                or np.count_nonzero(rounded) != 3
                or sorted(np.nonzero(rounded)[0].tolist()) != [0, 1, 2])
    if off_grid:
        raise InputError.single(field, f"{name} is not on the CT's voxel grid (different "
                                       "pixel spacing, slice positions or orientation); "
                                       "segment on the CT series itself or resample it")
    ct_axis = [int(np.nonzero(rounded[:, a])[0][0]) for a in range(3)]  # SEG axis a -> CT axis
    slices: list[slice] = [slice(0)] * 3
    for a, axis in enumerate(ct_axis):
        step, start, n = int(rounded[axis, a]), int(shift[axis]), int(seg_shape[a])
        stop = start + step * (n - 1)
        if step == 0 or min(start, stop) < 0 or max(start, stop) >= ct.shape[axis]:
            raise InputError.single(field, f"{name} reaches outside the CT volume; segment on "
                                           "the CT series itself")
        end = stop + 1 if step > 0 else (stop - 1 if stop > 0 else None)
        slices[axis] = slice(start, end, step)
    return ct_axis, slices


def _checked_header(path: Path, *, frame_of_reference: str | None, field: str) -> Any:
    """The SEG's header, checked before its pixels are read (class, size, frame of reference,
    segmentation type)."""
    import pydicom  # noqa: PLC0415

    name = path.name
    try:
        header = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception as exc:  # not DICOM, or truncated before the pixels
        raise InputError.single(field, f"{name} is not a readable DICOM file "
                                       f"({type(exc).__name__})") from None
    if str(header.get("SOPClassUID", "")) not in SEG_SOP_CLASSES:
        raise InputError.single(field, f"{name} is a DICOM file but not a Segmentation (SEG)")
    frames = int(header.get("NumberOfFrames", 1) or 1)
    voxels = frames * int(header.get("Rows", 0) or 0) * int(header.get("Columns", 0) or 0)
    if voxels > MAX_FRAME_VOXELS:
        raise InputError.single(field, f"{name} holds {voxels:,} frame voxels; at most "
                                       f"{MAX_FRAME_VOXELS:,} are read")
    seg_frame = str(header.get("FrameOfReferenceUID", "") or "")
    if frame_of_reference is None:
        raise InputError.single(field, f"{name} is a DICOM SEG: give the DICOM CT series folder "
                                       "it was made on (a NIfTI CT has no frame of reference "
                                       "to check it against)")
    if not seg_frame:
        raise InputError.single(field, f"{name} names no frame of reference (an incomplete or "
                                       "truncated SEG); refused")
    if seg_frame != frame_of_reference:
        raise InputError.single(field, f"{name} belongs to another frame of reference than the "
                                       "CT series (it was not made on this CT); refused")
    if str(header.get("SegmentationType", "")).upper() == "FRACTIONAL":
        raise InputError.single(field, f"{name} holds FRACTIONAL segments; export a BINARY or "
                                       "LABELMAP SEG")
    return header


def read_seg(path: Path, ct: Volume, *, frame_of_reference: str | None, field: str = "mask"
             ) -> tuple[Volume, dict[int, str], dict[str, Any]]:
    """The SEG's segments as one label volume on the CT grid (RAS order), their names and the
    SEG's provenance.

    Refused with one clear message: a file that is not a SEG, a CT without a DICOM frame of
    reference, a frame of reference other than the CT's, an unnamed segment, fractional
    segments, overlapping segments, and a SEG not on the CT's voxel grid.
    """
    import numpy as np  # noqa: PLC0415

    try:
        import highdicom as hd  # noqa: PLC0415 - optional (imaging) dependency
    except ModuleNotFoundError:
        raise InputError.single(field, f"{path.name} is a DICOM SEG, which needs highdicom: "
                                       "pip install 'spinemets[imaging]'") from None

    name = path.name
    header = _checked_header(path, frame_of_reference=frame_of_reference, field=field)
    try:
        seg = hd.seg.segread(str(path))
    except Exception as exc:  # highdicom raises many types for a malformed SEG
        raise InputError.single(field, f"{name} is not a readable DICOM SEG "
                                       f"({type(exc).__name__})") from None
    names = _segment_names(seg, field=field, name=name)
    try:
        volume = seg.get_volume(combine_segments=True, relabel=False)
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if "overlap" in reason.lower():
            raise InputError.single(field, f"segments of {name} overlap; each voxel may belong "
                                           "to one vertebra only") from None
        raise InputError.single(field, f"{name}: its frames could not be read as one regular "
                                       f"volume ({reason}); the file may be truncated or its "
                                       "slices unevenly spaced") from None
    array = np.asarray(volume.array)
    ct_axis, slices = _placement(volume.affine, array.shape, ct, field=field, name=name)
    order = [ct_axis.index(k) for k in range(3)]  # CT axis k <- SEG axis order[k]
    labels = np.zeros(ct.shape, dtype=np.uint16)
    labels[tuple(slices)] = np.transpose(array, order)
    source = {"kind": "dicom-seg", "file": name,
              "series_uid": str(header.get("SeriesInstanceUID", "")),
              "referenced_series": sorted({str(item.get("SeriesInstanceUID", "")) for item in
                                           header.get("ReferencedSeriesSequence", [])}),
              "segments": len(names)}
    return (Volume(data=labels, spacing_mm=ct.spacing_mm, origin_mm=ct.origin_mm,
                   orientation=ct.orientation), names, source)

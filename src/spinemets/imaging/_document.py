"""The ``spinemets-imaging/1`` output document, from volumes (core) or from files (shell)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spinemets import __version__
from spinemets.errors import InputError
from spinemets.imaging._labels import BODY_LABEL, vertebra_labels
from spinemets.imaging._measure import BodyMeasurement, measure_levels
from spinemets.imaging._suggest import GENANT_STATUS, suggest_levels
from spinemets.imaging._volume import Volume

if TYPE_CHECKING:
    from spinemets.imaging._io import LabelledMask

__all__ = ["FORMAT", "MeasureRun", "measure_files", "measure_volumes"]

FORMAT = "spinemets-imaging/1"

_METHOD = (
    "Vertebrae found by label name. Body heights at 15/50/85% of the antero-posterior depth "
    "(posterior/middle/anterior) along the axis joining the adjacent centroids, median over the "
    "central sagittal sections; height loss against the nearby measured levels (median of up "
    "to two above and two below). Suggestions are for a clinician to confirm; they never "
    "replace a value a clinician entered.")


@dataclass(frozen=True, slots=True)
class MeasureRun:
    """A finished measurement: the output document and what the overlay needs."""

    document: dict[str, Any]
    ct: Volume
    labels: Volume
    geometry: BodyMeasurement
    vertebrae: dict[str, int]


def _body_names(label_map: dict[int, str]) -> tuple[dict[str, int] | None, int | None]:
    levels = vertebra_labels(label_map)
    if levels:
        return levels, None
    for index, name in label_map.items():
        if name.strip().lower() == BODY_LABEL:
            return None, index
    raise InputError.single("body_mask", f"names neither per-level bodies (vertebrae_L1 ...) "
                                         f"nor a {BODY_LABEL!r} label")


def measure_volumes(ct: Volume, labels: Volume, label_map: dict[int, str], *,
                    body: Volume | None = None, body_label_map: dict[int, str] | None = None,
                    lesion: Volume | None = None,
                    source: dict[str, Any] | None = None) -> MeasureRun:
    """Measure every named vertebra and build the output document (no file I/O)."""
    vertebrae = vertebra_labels(label_map)
    body_levels = body_index = None
    if body is not None:
        body_levels, body_index = _body_names(body_label_map or {})
    geometry = measure_levels(ct, labels, vertebrae, named=set(label_map), body=body,
                              body_levels=body_levels, body_index=body_index)
    lesions = None
    if lesion is not None:
        from spinemets.imaging._lesion import lesion_findings  # noqa: PLC0415

        lesions = lesion_findings(ct, labels, vertebrae, geometry, lesion, body=body,
                                  body_levels=body_levels, body_index=body_index)
    document = {
        "format": FORMAT,
        "software": f"spinemets {__version__}",
        "source": source or {},
        "grid": {"shape": list(ct.shape), "spacing_mm": [round(s, 4) for s in ct.spacing_mm],
                 "orientation_in_file": ct.orientation},
        "method": _METHOD,
        "genant": GENANT_STATUS,
        "warnings": list(geometry.warnings),
        "levels": suggest_levels(geometry, lesions=lesions),
        "disclaimer": ("Decision support only. Measurements come from automated masks (model "
                       "output, not manual ground truth); a clinician confirms every value."),
    }
    return MeasureRun(document=document, ct=ct, labels=labels, geometry=geometry,
                      vertebrae=vertebrae)


def measure_files(ct_path: Path, mask_path: Path, *, label_map: Path | None = None,
                  body_mask: Path | None = None, lesion_mask: Path | None = None) -> MeasureRun:
    """Read the files, measure, and name only non-identifying provenance in ``source``."""
    from spinemets.imaging._io import read_ct  # noqa: PLC0415

    ct, ct_source = read_ct(ct_path)
    mask, mask_source = _read_labels(mask_path, ct, ct_source, label_map=label_map,
                                     field="mask")
    source: dict[str, Any] = {"ct": ct_source, "mask": mask_source}
    body = body_names = lesion = None
    if body_mask is not None:
        read, body_source = _read_labels(body_mask, ct, ct_source, label_map=None,
                                         field="body_mask")
        body, body_names = read.volume, read.label_map
        source["body_mask"] = body_source
    if lesion_mask is not None:
        lesion = _read_lesion(lesion_mask, ct, ct_source)
        source["lesion_mask"] = {"file": lesion_mask.name}
    return measure_volumes(ct, mask.volume, mask.label_map, body=body, body_label_map=body_names,
                           lesion=lesion, source=source)


def _read_labels(path: Path, ct: Volume, ct_source: dict[str, Any], *,
                 label_map: Path | None, field: str) -> tuple[LabelledMask, dict[str, Any]]:
    """A NIfTI label mask, or a DICOM SEG placed on the CT grid (names from its segments)."""
    from spinemets.imaging._io import LabelledMask, read_mask  # noqa: PLC0415
    from spinemets.imaging._seg import is_dicom_file, read_seg  # noqa: PLC0415

    if not is_dicom_file(path):
        mask = read_mask(path, label_map=label_map, field=field)
        return mask, {"file": mask.file, "names_from": mask.names_from}
    if label_map is not None:
        raise InputError.single("label_map", f"{path.name} is a DICOM SEG, which names its "
                                             "segments itself; leave out --label-map")
    volume, names, seg_source = read_seg(
        path, ct, frame_of_reference=ct_source.get("frame_of_reference_uid"), field=field)
    names_from = "DICOM SEG segment labels"
    return (LabelledMask(volume=volume, label_map=names, names_from=names_from, file=path.name),
            {**seg_source, "names_from": names_from})


def _read_lesion(path: Path, ct: Volume, ct_source: dict[str, Any]) -> Volume:
    from spinemets.imaging._io import read_binary  # noqa: PLC0415
    from spinemets.imaging._seg import is_dicom_file, read_seg  # noqa: PLC0415

    if not is_dicom_file(path):
        return read_binary(path, field="lesion_mask")
    volume, _, _ = read_seg(path, ct, frame_of_reference=ct_source.get("frame_of_reference_uid"),
                            field="lesion_mask")
    return Volume(data=volume.data != 0, spacing_mm=volume.spacing_mm,
                  origin_mm=volume.origin_mm, orientation=volume.orientation)

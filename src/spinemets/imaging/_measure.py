"""Per-vertebra measurements from a CT and its vertebra masks (pure: arrays in, results out).

Everything here works on :class:`~spinemets.imaging._volume.Volume` objects already turned into
RAS voxel order, so the numbers do not depend on how the files stored their voxels.

Method, per vertebral body (the part of the vertebra mask inside the body mask):

1. Centroid (world mm), volume, and mean / median HU inside the body eroded by about 4 mm
   (cortex and partial-volume edge left out).
2. Height axis: the line joining the centroids of the adjacent levels (both when present), kept
   in the sagittal plane; the antero-posterior (AP) axis is perpendicular to it in that plane.
3. In each sagittal voxel slice of the central 40 % of the body's left-right width, the AP
   depth is read along the AP axis through the centroid (to where the linearly interpolated
   mask crosses one half), and the height along the height axis at 15 %, 50 % and
   85 % of that depth (posterior, middle, anterior), between the outermost samples inside the
   mask at half-voxel steps (the reference spine report's convention). Each height is the
   median over the slices.
4. Endplates: the superior and inferior endplate lines join the posterior and anterior end
   points; their angles give the wedge of each body and the angle between adjacent endplates.

Levels whose body touches the edge of the field of view are ``clipped`` and not measured. A
level missing between two present ones, labels out of cranio-caudal order, and a body too small
to be a vertebra are ``flagged``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spinemets.errors import InputError
from spinemets.imaging._labels import VERTEBRA_ORDER, rank_of
from spinemets.imaging._volume import Volume

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "MIN_BODY_VOLUME_ML",
    "BodyMeasurement",
    "LevelGeometry",
    "measure_levels",
]

#: A body smaller than this is flagged as too small to be a vertebral body (a technical
#: plausibility check of the mask, not a clinical threshold).
MIN_BODY_VOLUME_ML = 1.0
#: Erosion before HU statistics (mm), leaving out cortex and partial-volume edge.
HU_EROSION_MM = 4.0
#: Relative positions along the AP depth, posterior to anterior.
POSITIONS = {"posterior": 0.15, "middle": 0.50, "anterior": 0.85}
_STEP_MM = 0.25
_REACH_MM = 120.0
#: Half-width of the band of sagittal sections measured, as a fraction of the body's width.
_BAND = 0.2
#: Opening radius that strips the thin posterior elements when no body mask is given.
_OPENING_MM = 5.0


@dataclass(frozen=True, slots=True)
class LevelGeometry:
    """What was measured on one level; heights in mm, ``None`` when not measurable."""

    level: str
    status: str  # measured | clipped | flagged
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    centroid_mm: tuple[float, float, float] | None = None
    volume_ml: float | None = None
    hu_mean: float | None = None
    hu_median: float | None = None
    heights_mm: dict[str, float] | None = None
    depth_mm: float | None = None
    sections: int = 0
    #: (t, s_low, s_high) per position in the local AP / height frame (mm), for the overlay.
    profile: dict[str, tuple[float, float, float]] | None = None
    axes: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    superior_endplate_deg: float | None = None
    inferior_endplate_deg: float | None = None
    body_source: str = "body mask"


@dataclass(frozen=True, slots=True)
class BodyMeasurement:
    """All levels (cranio-caudal order) and the spine-wide warnings."""

    levels: tuple[LevelGeometry, ...]
    warnings: tuple[str, ...] = ()
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shape: tuple[int, int, int] = (0, 0, 0)
    extras: dict[str, Any] = field(default_factory=dict)


def _np() -> Any:
    import numpy  # noqa: PLC0415 - optional (imaging) dependency, imported when measuring

    return numpy


#: Largest label value handled directly (bounding boxes are listed per value up to it).
MAX_LABEL_VALUE = 1_000_000


def _label_boxes(labels: npt.NDArray[Any], *, field: str) -> list[Any]:
    """Bounding box of every label value present (index = value - 1), in one pass."""
    from scipy import ndimage  # noqa: PLC0415

    np = _np()
    if labels.dtype.kind not in "iu":
        labels = labels.astype(np.int32)
    if labels.size == 0:
        return []
    low, top = int(labels.min()), int(labels.max())
    if low < 0:
        raise InputError.single(field, "holds negative label values; labels are 0 (background) "
                                       "or a positive index")
    if top > MAX_LABEL_VALUE:
        raise InputError.single(field, f"holds a label value {top}; label indexes above "
                                       f"{MAX_LABEL_VALUE:,} are not supported")
    return list(ndimage.find_objects(labels, max_label=top))


def _erode(mask: Any, radius_mm: float, spacing: tuple[float, float, float]) -> Any:
    """Erosion by a ball of ``radius_mm`` (Euclidean distance transform: fast for any radius)."""
    from scipy import ndimage  # noqa: PLC0415

    np = _np()
    padded = np.pad(mask, 1)
    inside = ndimage.distance_transform_edt(padded, sampling=spacing) > radius_mm
    return inside[1:-1, 1:-1, 1:-1]


def _dilate(mask: Any, radius_mm: float, spacing: tuple[float, float, float]) -> Any:
    from scipy import ndimage  # noqa: PLC0415

    if not mask.any():
        return mask
    return ndimage.distance_transform_edt(~mask, sampling=spacing) <= radius_mm


def _derive_body(vertebra: Any, spacing: tuple[float, float, float]) -> Any:
    """Approximate body of a whole-vertebra mask: an opening strips the thin posterior
    elements; the largest remaining piece is the body."""
    from scipy import ndimage  # noqa: PLC0415

    np = _np()
    opened = _dilate(_erode(vertebra, _OPENING_MM, spacing), _OPENING_MM, spacing) & vertebra
    pieces, count = ndimage.label(opened)
    if count == 0:
        return opened
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    return pieces == int(np.argmax(sizes))


@dataclass(frozen=True, slots=True)
class _Body:
    level: str
    rank: int
    offset: tuple[int, int, int]
    mask: Any  # bool crop
    vertebra: Any  # bool crop, same box
    clipped: bool
    centroid_mm: tuple[float, float, float] | None
    volume_ml: float
    hu_mean: float | None
    hu_median: float | None
    body_source: str
    notes: tuple[str, ...]


def _crop(box: tuple[slice, ...], shape: tuple[int, ...], margin: int) -> tuple[slice, ...]:
    return tuple(slice(max(0, b.start - margin), min(n, b.stop + margin))
                 for b, n in zip(box, shape, strict=True))


def _touches_edge(mask: Any, crop: tuple[slice, ...], shape: tuple[int, ...]) -> bool:
    np = _np()
    idx = np.nonzero(mask)
    for axis in range(3):
        if idx[axis].size == 0:
            return False
        lo = crop[axis].start + int(idx[axis].min())
        hi = crop[axis].start + int(idx[axis].max())
        if lo == 0 or hi == shape[axis] - 1:
            return True
    return False


def _hu(ct_crop: Any, body: Any, spacing: tuple[float, float, float]) -> tuple[
        float | None, float | None, tuple[str, ...]]:
    np = _np()
    eroded = _erode(body, HU_EROSION_MM, spacing)
    notes: tuple[str, ...] = ()
    if not eroded.any():
        eroded, notes = body, ("HU read on the whole body: nothing was left after a 4 mm "
                                 "erosion",)
    values = ct_crop[eroded]
    if values.size == 0:
        return None, None, notes
    return float(np.mean(values)), float(np.median(values)), notes


def _bodies(ct: Volume, labels: Any, boxes: list[Any], vertebrae: dict[str, int], *,
            body: Any, body_levels: dict[str, int] | None, body_index: int | None,
            ) -> list[_Body]:
    np = _np()
    shape = ct.shape
    spacing = ct.spacing_mm
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    out: list[_Body] = []
    for level in sorted(vertebrae, key=rank_of):
        index = vertebrae[level]
        box = boxes[index - 1] if index <= len(boxes) else None
        if box is None:
            continue
        rank = rank_of(level)
        crop = _crop(box, shape, 2)
        vertebra = np.asarray(labels[crop]) == index
        notes: tuple[str, ...] = ()
        if body is not None and body_levels:
            body_index_here = body_levels.get(level)
            part = (np.asarray(body[crop]) == body_index_here if body_index_here is not None
                    else np.zeros_like(vertebra))
            source = "per-level body mask"
        elif body is not None and body_index is not None:
            part = vertebra & (np.asarray(body[crop]) == body_index)
            source = "vertebra mask within the body mask"
        else:
            part = _derive_body(vertebra, spacing)
            source = "derived from the vertebra mask (approximate: no body mask given)"
        body_mask = part
        count = int(body_mask.sum())
        if count == 0 and _touches_edge(vertebra, crop, shape):
            out.append(_Body(level, rank, (crop[0].start, crop[1].start, crop[2].start), body_mask,
                             vertebra, True, None, 0.0, None, None, source,
                             ("no body voxels; the vertebra touches the edge of the field of "
                              "view",)))
            continue
        if count == 0:
            out.append(_Body(level, rank, (crop[0].start, crop[1].start, crop[2].start), body_mask,
                             vertebra, False, None, 0.0,
                             None, None, source, ("no body voxels in this level's mask",)))
            continue
        idx = np.nonzero(body_mask)
        centroid = tuple(ct.origin_mm[a] + spacing[a] * (crop[a].start + float(idx[a].mean()))
                         for a in range(3))
        mean, median, hu_notes = _hu(np.asarray(ct.data[crop], dtype=np.float32), body_mask,
                                     spacing)
        out.append(_Body(level, rank, (crop[0].start, crop[1].start, crop[2].start), body_mask,
                         vertebra, _touches_edge(body_mask, crop, shape),
                         (centroid[0], centroid[1], centroid[2]), count * voxel_ml, mean, median,
                         source, notes + hu_notes))
    return out


def _order_flags(bodies: list[_Body]) -> dict[str, list[str]]:
    """Flags for levels out of cranio-caudal order, missing levels and tiny bodies."""
    flags: dict[str, list[str]] = {b.level: [] for b in bodies}
    placed = [b for b in bodies if b.centroid_mm is not None]
    for upper, lower in itertools.pairwise(placed):
        if upper.centroid_mm is not None and lower.centroid_mm is not None and (
                upper.centroid_mm[2] <= lower.centroid_mm[2]):
            message = (f"out of anatomical order: {upper.level} is not above {lower.level} "
                       "(labels may be swapped)")
            flags[upper.level].append(message)
            flags[lower.level].append(message)
    for b in bodies:
        if b.clipped:
            continue
        if b.centroid_mm is None:
            flags[b.level].append("empty body: no body voxels for this level")
        elif b.volume_ml < MIN_BODY_VOLUME_ML:
            flags[b.level].append(f"body too small to be a vertebra ({b.volume_ml:.2f} mL < "
                                  f"{MIN_BODY_VOLUME_ML} mL)")
    return flags


def _missing(bodies: list[_Body]) -> list[str]:
    ranks = sorted(b.rank for b in bodies)
    if not ranks:
        return []
    present = set(ranks)
    return [VERTEBRA_ORDER[r] for r in range(ranks[0], ranks[-1] + 1) if r not in present]


def _axes(bodies: list[_Body], i: int) -> tuple[Any, Any]:
    """Unit height axis (towards superior) and AP axis (towards anterior), sagittal plane."""
    np = _np()
    here = np.array(bodies[i].centroid_mm)
    up = bodies[i - 1].centroid_mm if i > 0 and bodies[i - 1].rank == bodies[i].rank - 1 else None
    down = (bodies[i + 1].centroid_mm if i + 1 < len(bodies)
            and bodies[i + 1].rank == bodies[i].rank + 1 else None)
    if up is not None and down is not None:
        axis = np.array(up) - np.array(down)
    elif up is not None:
        axis = np.array(up) - here
    elif down is not None:
        axis = here - np.array(down)
    else:
        axis = np.array([0.0, 0.0, 1.0])
    axis[0] = 0.0
    norm = float(np.linalg.norm(axis))
    axis = np.array([0.0, 0.0, 1.0]) if norm < 1e-6 or axis[2] <= 0 else axis / norm
    ap = np.array([0.0, axis[2], -axis[1]])
    return axis, ap


def _runs(inside: Any, values: Any, centre: int) -> tuple[float, float] | None:
    """Sub-sample (start, end) indexes of the run of ``inside`` samples holding ``centre``."""
    np = _np()
    if not inside[centre]:
        return None
    outside = np.nonzero(~inside)[0]
    before = outside[outside < centre]
    after = outside[outside > centre]
    if before.size == 0 or after.size == 0:
        return None
    lo, hi = int(before[-1]), int(after[0])

    def cross(a: int, b: int) -> float:  # value crosses 0.5 between samples a (out) and b (in)
        va, vb = float(values[a]), float(values[b])
        return a + (0.5 - va) / (vb - va) * (b - a) if vb != va else (a + b) / 2

    return cross(lo, lo + 1), cross(hi, hi - 1)


def _line(mask: Any, start_vox: Any, direction_vox: Any, *, inner: bool = False) -> tuple[
        float, float] | None:
    """(low, high) mm offsets along a line through ``start_vox`` where the mask ends.

    ``inner=False``: where the linearly interpolated mask crosses one half (the boundary of
    the voxelised mask). ``inner=True``: the outermost samples inside the mask on a grid of
    half-voxel steps from the start point (the convention of the reference spine report; about
    half a voxel shorter in all)."""
    from scipy import ndimage  # noqa: PLC0415

    np = _np()
    step = _STEP_MM
    if inner:
        step = 0.5 / float(np.linalg.norm(direction_vox))
    reach = math.ceil(_REACH_MM / step) * step
    t = np.arange(-reach, reach + step / 2, step)
    coords = start_vox[:, None] + direction_vox[:, None] * t[None, :]
    values = ndimage.map_coordinates(mask, coords, order=1, mode="constant", cval=0.0)
    centre = int(np.argmin(np.abs(t)))
    run = _runs(values > 0.5, values, centre)
    if run is None:
        return None
    if inner:
        lo, hi = math.ceil(run[0]), math.floor(run[1])
        return float(t[lo]), float(t[hi])
    return float(run[0] * step - reach), float(run[1] * step - reach)


def _section(mask: Any, centre_vox: Any, height_vox: Any, ap_vox: Any) -> dict[
        str, tuple[float, float, float]] | None:
    depth = _line(mask, centre_vox, ap_vox)
    if depth is None:
        return None
    out: dict[str, tuple[float, float, float]] = {}
    for name, fraction in POSITIONS.items():
        t = depth[0] + fraction * (depth[1] - depth[0])
        span = _line(mask, centre_vox + ap_vox * t, height_vox, inner=True)
        if span is None:
            return None
        out[name] = (t, span[0], span[1])
    out["depth"] = (depth[1] - depth[0], depth[0], depth[1])
    return out


def _heights(body: _Body, spacing: tuple[float, float, float], origin: tuple[float, ...],
             axis: Any, ap: Any) -> dict[str, Any]:
    np = _np()
    sp = np.array(spacing)
    mask = body.mask.astype(np.float32)
    centroid = np.array(body.centroid_mm)
    centre_vox = (centroid - np.array(origin)) / sp - np.array(body.offset)
    xs = np.nonzero(body.mask.any(axis=(1, 2)))[0]
    half = _BAND * float(xs.max() - xs.min() + 1)
    first = math.ceil(centre_vox[0] - half)
    last = max(first, math.floor(centre_vox[0] + half))
    sections = []
    for x in range(first, last + 1):
        start = np.array([float(x), centre_vox[1], centre_vox[2]])
        found = _section(mask, start, axis / sp, ap / sp)
        if found is not None:
            sections.append(found)
    if not sections:
        return {"notes": ("no sagittal section through the centroid crosses the whole body",)}
    profile = {name: tuple(float(np.median([s[name][k] for s in sections])) for k in range(3))
               for name in (*POSITIONS, "depth")}
    heights = {name: round(float(np.median([s[name][2] - s[name][1] for s in sections])), 2)
               for name in POSITIONS}
    return {"profile": profile, "heights": heights, "sections": len(sections),
            "depth": round(profile["depth"][0], 2)}


def _endplates(profile: dict[str, tuple[float, ...]], ap: Any) -> tuple[float, float]:
    """Angles (degrees) of the superior and inferior endplate lines from the world anterior
    axis, in the sagittal plane (positive: rising anteriorly)."""
    base = math.degrees(math.atan2(float(ap[2]), float(ap[1])))
    post, ant = profile["posterior"], profile["anterior"]
    dt = ant[0] - post[0]
    superior = math.degrees(math.atan2(ant[2] - post[2], dt)) + base
    inferior = math.degrees(math.atan2(ant[1] - post[1], dt)) + base
    return round(superior, 1), round(inferior, 1)


def _geometry(bodies: list[_Body], i: int, flags: list[str], ct: Volume) -> LevelGeometry:
    b = bodies[i]
    base: dict[str, Any] = {"level": b.level, "flags": tuple(flags), "notes": b.notes,
                            "centroid_mm": _rounded(b.centroid_mm),
                            "volume_ml": round(b.volume_ml, 2) if b.centroid_mm else None,
                            "hu_mean": _round(b.hu_mean), "hu_median": _round(b.hu_median),
                            "body_source": b.body_source}
    if b.clipped:
        return LevelGeometry(status="clipped", **base)
    if b.centroid_mm is None or any("too small" in f or "empty" in f for f in flags):
        return LevelGeometry(status="flagged", **base)
    axis, ap = _axes(bodies, i)
    found = _heights(b, ct.spacing_mm, ct.origin_mm, axis, ap)
    status = "flagged" if flags else "measured"
    if "heights" not in found:
        base["notes"] = base["notes"] + found["notes"]
        return LevelGeometry(status="flagged", **{**base, "flags": (
            *flags, "heights could not be measured")})
    superior, inferior = _endplates(found["profile"], ap)
    return LevelGeometry(
        status=status, heights_mm=found["heights"], depth_mm=found["depth"],
        sections=found["sections"], profile=found["profile"],
        axes=(_vec(axis), _vec(ap)), superior_endplate_deg=superior,
        inferior_endplate_deg=inferior, **base)


def _vec(v: Any) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _rounded(v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
    return None if v is None else (round(v[0], 2), round(v[1], 2), round(v[2], 2))


def _same_grid(a: Volume, b: Volume, field: str) -> None:
    if a.shape != b.shape or any(abs(x - y) > 1e-3 * max(1.0, abs(x)) for x, y in zip(
            a.spacing_mm, b.spacing_mm, strict=True)) or any(
            abs(x - y) > 0.5 * s for x, y, s in zip(a.origin_mm, b.origin_mm, a.spacing_mm,
                                                    strict=True)):
        raise InputError.single(field, f"is not on the CT's voxel grid (mask {b.shape}, spacing "
                                       f"{_rounded(b.spacing_mm)}; CT {a.shape}, spacing "
                                       f"{_rounded(a.spacing_mm)}): use the mask that the "
                                       "segmentation tool wrote for this CT")


def measure_levels(ct: Volume, labels: Volume, vertebrae: dict[str, int], *,
                   named: Collection[int] | None = None, body: Volume | None = None,
                   body_levels: dict[str, int] | None = None,
                   body_index: int | None = None) -> BodyMeasurement:
    """Measure every vertebra named in ``vertebrae`` (``{"L1": label index}``).

    ``named`` (all label values that have a name) refuses a mask holding an unnamed value.
    ``body`` is an optional body mask on the same grid: per-level bodies named by
    ``body_levels``, or one all-bodies label ``body_index``. Without it the body is derived
    from each vertebra mask (approximate; said in each level's notes).
    """
    if not vertebrae:
        raise InputError.single("mask", "names no vertebra (vertebrae_C1 ... vertebrae_S1); "
                                        "give a label map naming the vertebra labels")
    _same_grid(ct, labels, "mask")
    boxes = _label_boxes(labels.data, field="mask")
    if named is not None:
        unnamed = [i + 1 for i, box in enumerate(boxes) if box is not None and i + 1 not in named]
        if unnamed:
            shown = ", ".join(str(v) for v in unnamed[:10])
            raise InputError.single("mask", f"label values {shown} have no name; name every "
                                            "label in the label map or the header label table")
    if body is not None:
        _same_grid(ct, body, "body_mask")
    bodies = _bodies(ct, labels.data, boxes, vertebrae, body=None if body is None else body.data,
                     body_levels=body_levels, body_index=body_index)
    if not bodies:
        raise InputError.single("mask", "holds no voxel of any named vertebra")
    flags = _order_flags(bodies)
    missing = _missing(bodies)
    warnings = [f"{level} is missing between {bodies[0].level} and {bodies[-1].level}: a gap in "
                "the segmentation or labels shifted by one; check the level names"
                for level in missing]
    levels = [_geometry(bodies, i, flags[b.level], ct) for i, b in enumerate(bodies)]
    for level in missing:
        levels.append(LevelGeometry(level=level, status="flagged", flags=(
            "missing between two present levels",)))
    levels.sort(key=lambda g: rank_of(g.level))
    crops = {b.level: (b.offset, b.mask, b.vertebra) for b in bodies}
    return BodyMeasurement(levels=tuple(levels), warnings=tuple(warnings),
                           spacing_mm=ct.spacing_mm, shape=ct.shape, extras={"crops": crops})

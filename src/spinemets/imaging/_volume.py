"""Image volumes on a canonical grid (pure numpy: arrays and affines in, no file I/O).

Every image is turned into RAS voxel order before it is measured: axis 0 runs towards Right,
axis 1 towards Anterior, axis 2 towards Superior. The turn uses only axis permutations and flips
read from the affine, so no voxel is resampled and the result does not depend on the order in
which the scanner or a tool stored the voxels. Oblique
images (axes not aligned with the patient axes) are refused: they would need resampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spinemets.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["OBLIQUE_TOLERANCE", "Volume", "canonical"]

#: Largest off-axis component of a unit voxel axis accepted as "not oblique" (about 0.6 degree).
OBLIQUE_TOLERANCE = 0.01


@dataclass(frozen=True, slots=True)
class Volume:
    """A 3-D array in RAS voxel order with its voxel size and the world position of voxel 0.

    ``spacing_mm`` is the voxel size along (right, anterior, superior); ``origin_mm`` the RAS
    world coordinate of voxel (0, 0, 0); ``orientation`` the axis codes of the stored file
    (e.g. ``"LPS"``), for the record.
    """

    data: npt.NDArray[Any]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    orientation: str

    @property
    def shape(self) -> tuple[int, int, int]:
        s = self.data.shape
        return (int(s[0]), int(s[1]), int(s[2]))


_CODES = ("RL", "AP", "SI")


def canonical(data: npt.NDArray[Any], affine: npt.NDArray[np.float64], *,
              field: str = "image") -> Volume:
    """``data`` (stored with the voxel-to-RAS ``affine``) as a :class:`Volume` in RAS order.

    Raises :class:`~spinemets.errors.InputError` naming ``field`` for an oblique, degenerate or
    non-3-D image.
    """
    import numpy as np  # noqa: PLC0415 - numpy is an optional (imaging) dependency

    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError.single(field, f"must be a 3-D volume (it has shape {data.shape})")
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise InputError.single(field, "has no valid 4 x 4 voxel-to-world affine")
    columns = affine[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    if np.any(spacing <= 1e-6) or np.any(spacing > 1e3):
        raise InputError.single(field, f"has an impossible voxel size {tuple(spacing)} mm")
    unit = columns / spacing
    world_axis = np.argmax(np.abs(unit), axis=0)
    off_axis = np.sqrt(np.clip(1.0 - np.max(np.abs(unit), axis=0) ** 2, 0.0, None))
    if len(set(world_axis.tolist())) != 3 or np.any(off_axis > OBLIQUE_TOLERANCE):
        raise InputError.single(
            field, "is oblique (its voxel axes are not aligned with the patient axes); "
            "resample it to an axis-aligned grid first")
    signs = np.sign(unit[world_axis, np.arange(3)])
    orientation = "".join(_CODES[int(w)][0 if s > 0 else 1] for w, s in zip(
        world_axis, signs, strict=True))
    # order[k] = stored axis that runs along world axis k
    order = [int(np.where(world_axis == k)[0][0]) for k in range(3)]
    out = np.transpose(data, order)
    origin = affine[:3, 3].copy()
    flips = []
    for k, axis in enumerate(order):
        if signs[axis] < 0:
            flips.append(k)
            origin = origin + columns[:, axis] * (data.shape[axis] - 1)
    if flips:
        out = np.flip(out, axis=tuple(flips))
    sp = tuple(float(spacing[a]) for a in order)
    return Volume(data=out, spacing_mm=(sp[0], sp[1], sp[2]),
                  origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
                  orientation=orientation)

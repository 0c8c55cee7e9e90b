"""Synthetic spine phantoms: box-shaped vertebral bodies stacked along the superior axis.

Each body is 40 mm wide, 30 mm deep and ``HEIGHT_MM`` tall, with a 10 mm disc between bodies,
on a 0.5 mm grid. A planted collapse shortens a body symmetrically about its mid-plane (top
and bottom endplates move in equally), either uniformly or as an anterior wedge whose loss
grows linearly from nothing at 15 % of the depth to the planted loss at 85 % (the posterior and
anterior measurement positions).
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np

from spinemets.imaging import Volume

SPACING = 0.5
HEIGHT_MM = 30.0
GAP_MM = 10.0
WIDTH_MM, DEPTH_MM = 40.0, 30.0
MARGIN_MM = 12.0


@dataclass
class Phantom:
    ct: Volume
    labels: Volume
    label_map: dict[int, str]
    bodies: Volume | None = None


def _even(n: float) -> int:
    return max(2, round(n / 2.0) * 2)


def build(levels: list[str], *, wedge: dict[str, float] | None = None,
          crush: dict[str, float] | None = None, clip_top: bool = False,
          small: tuple[str, ...] = (), posterior: bool = False) -> Phantom:
    """Phantom with ``levels`` top (first) to bottom; planted losses as fractions."""
    wedge, crush = wedge or {}, crush or {}
    v = SPACING
    nx = int((WIDTH_MM + 2 * MARGIN_MM) / v)
    ny = int((DEPTH_MM + 2 * MARGIN_MM + 16) / v)
    pitch = HEIGHT_MM + GAP_MM
    nz = int((len(levels) * pitch + 2 * MARGIN_MM) / v)
    ct = np.full((nx, ny, nz), -50, dtype=np.int16)  # soft tissue
    labels = np.zeros((nx, ny, nz), dtype=np.uint8)
    x0, y0 = int(MARGIN_MM / v), int((MARGIN_MM + 16) / v)
    wx, dy = int(WIDTH_MM / v), int(DEPTH_MM / v)
    full = _even(HEIGHT_MM / v)
    names = {}
    for i, level in enumerate(reversed(levels)):  # bottom level first (lowest z)
        index = 40 + i * 3  # deliberately not in anatomical order or from 1
        names[index] = f"vertebrae_{level}"
        mid = int((MARGIN_MM + GAP_MM / 2 + i * pitch + HEIGHT_MM / 2) / v)
        if level in small:  # a speck, far too small to be a vertebral body
            labels[x0:x0 + 8, y0:y0 + 8, mid - 4:mid + 4] = index
            continue
        for j in range(dy):
            u = (j + 0.5) / dy  # 0 posterior .. 1 anterior
            loss = crush.get(level, 0.0)
            if level in wedge:
                loss = wedge[level] * min(1.0, max(0.0, (u - 0.15) / 0.7))
            h = _even(full * (1.0 - loss))
            labels[x0:x0 + wx, y0 + j, mid - h // 2:mid + h // 2] = index
    bodies = labels.copy()
    if posterior:  # two posterior bars (pedicles and facets) behind each body
        for index in names:
            z = np.nonzero((labels == index).any(axis=(0, 1)))[0]
            mid = int(z.mean())
            for left in (x0 + 8, x0 + wx - 20):
                labels[left:left + 12, y0 - 32:y0, mid - 12:mid + 12] = index
    ct[labels > 0] = np.random.default_rng(3).normal(250, 30, int((labels > 0).sum()))
    if clip_top:
        top = int(np.nonzero(labels.any(axis=(0, 1)))[0].max())
        labels = labels[:, :, : top - 8]
        bodies = bodies[:, :, : top - 8]
        ct = ct[:, :, : top - 8]
    return Phantom(
        ct=Volume(ct, (v, v, v), (0.0, 0.0, 0.0), "RAS"),
        labels=Volume(labels, (v, v, v), (0.0, 0.0, 0.0), "RAS"),
        label_map=names,
        bodies=Volume(bodies, (v, v, v), (0.0, 0.0, 0.0), "RAS"),
    )


def label_table_xml(names: dict[int, str]) -> bytes:
    """The label-table XML that segmentation tools write into a NIfTI header extension."""
    rows = "".join(f'<Label Key="{k}" Red="1" Green="0" Blue="0" Alpha="1"><![CDATA[{v}]]>'
                   "</Label>\n" for k, v in names.items())
    return ('<?xml version="1.0" encoding="UTF-8"?><CaretExtension><VolumeInformation '
            f'Index="0"><LabelTable>\n{rows}</LabelTable></VolumeInformation></CaretExtension>'
            ).encode()


def save_nifti(path: object, volume: Volume, *, names: dict[int, str] | None = None) -> None:
    """Write ``volume`` (RAS order) as NIfTI, with a label table when ``names`` is given."""
    affine = np.diag([*volume.spacing_mm, 1.0])
    affine[:3, 3] = volume.origin_mm
    image = nib.Nifti1Image(np.asarray(volume.data), affine)
    if names is not None:
        image.header.extensions.append(nib.nifti1.Nifti1Extension(0, label_table_xml(names)))
    nib.save(image, str(path))

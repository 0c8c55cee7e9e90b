"""Sagittal overlay PNG: a reformat through the vertebral bodies with their outlines, the three
measured heights, height loss, and the clipped or flagged levels (Pillow)."""

from __future__ import annotations

import io
from typing import Any

from spinemets.imaging._document import MeasureRun

__all__ = ["render_overlay"]

_WINDOW = (-450.0, 1050.0)  # bone window (HU)
_PX_PER_MM = 3.0
_MARGIN_MM = 35.0
_COLOURS = {"measured": (60, 200, 90), "flagged": (255, 165, 0), "clipped": (230, 60, 60)}
_PANEL = 470


def _font(size: int) -> Any:
    from PIL import ImageFont  # noqa: PLC0415

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def _slab(run: MeasureRun) -> tuple[Any, Any]:
    """Curved sagittal CT plane (y, z) through the body centroids, and the body label plane."""
    import numpy as np  # noqa: PLC0415

    ct, geometry = run.ct, run.geometry
    nx, ny, nz = ct.shape
    ox, _, oz = ct.origin_mm
    sx, _, sz = ct.spacing_mm
    placed = [g for g in geometry.levels if g.centroid_mm is not None]
    zs = np.array([g.centroid_mm[2] for g in placed if g.centroid_mm])
    xs = np.array([g.centroid_mm[0] for g in placed if g.centroid_mm])
    order = np.argsort(zs)
    z_world = oz + sz * np.arange(nz)
    x_world = np.interp(z_world, zs[order], xs[order]) if len(zs) else np.full(nz, ox)
    x_index = np.clip(np.rint((x_world - ox) / sx).astype(int), 0, nx - 1)
    plane = np.empty((ny, nz), dtype=np.float32)
    for k in range(nz):
        plane[:, k] = ct.data[x_index[k], :, k]
    bodies = np.zeros((ny, nz), dtype=np.uint8)
    status = {g.level: g.status for g in geometry.levels}
    codes = {"measured": 1, "flagged": 2, "clipped": 3}
    for level, (offset, body, _vertebra) in geometry.extras.get("crops", {}).items():
        for k in range(body.shape[2]):
            xi = x_index[offset[2] + k] - offset[0]
            lo, hi = max(0, xi - 1), min(body.shape[0], xi + 2)
            if lo >= hi:
                continue
            row = body[lo:hi, :, k].any(axis=0)
            target = bodies[offset[1]:offset[1] + body.shape[1], offset[2] + k]
            target[row] = codes.get(status.get(level, "flagged"), 2)
    return plane, bodies


def _outline(codes: Any) -> Any:
    import numpy as np  # noqa: PLC0415

    edge = np.zeros_like(codes)
    inner = codes[1:-1, 1:-1]
    same = ((codes[:-2, 1:-1] == inner) & (codes[2:, 1:-1] == inner)
            & (codes[1:-1, :-2] == inner) & (codes[1:-1, 2:] == inner))
    edge[1:-1, 1:-1] = np.where(same, 0, inner)
    return edge


def render_overlay(run: MeasureRun) -> bytes:
    """The overlay as PNG bytes."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image, ImageDraw  # noqa: PLC0415

    ct = run.ct
    _, sy, sz = ct.spacing_mm
    _, oy, oz = ct.origin_mm
    plane, bodies = _slab(run)
    lo, hi = _WINDOW
    grey = (np.clip((plane - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    edge = _outline(bodies)
    for code, colour in enumerate(_COLOURS.values(), start=1):
        rgb[edge == code] = colour
    # display: rows = superior at top, columns = anterior on the left
    rgb = rgb[::-1, ::-1, :].transpose(1, 0, 2)
    ny, nz = plane.shape
    width, height = max(1, round(ny * sy * _PX_PER_MM)), max(1, round(nz * sz * _PX_PER_MM))
    image = Image.fromarray(np.ascontiguousarray(rgb)).resize(
        (width, height), Image.Resampling.NEAREST)

    def px(y_mm: float, z_mm: float) -> tuple[float, float]:
        j, k = (y_mm - oy) / sy, (z_mm - oz) / sz
        return (ny - 1 - j + 0.5) * sy * _PX_PER_MM, (nz - 1 - k + 0.5) * sz * _PX_PER_MM

    box = _crop_box(run, px, width, height)
    image = image.crop(box)
    canvas = Image.new("RGB", (image.width + _PANEL, max(image.height, 420)), (16, 16, 16))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    _draw_levels(draw, run, px, box, image.width)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def _crop_box(run: MeasureRun, px: Any, width: int, height: int) -> tuple[int, int, int, int]:
    points = [px(g.centroid_mm[1], g.centroid_mm[2]) for g in run.geometry.levels
              if g.centroid_mm is not None]
    if not points:
        return (0, 0, width, height)
    margin = _MARGIN_MM * _PX_PER_MM * 2
    left = max(0, int(min(p[0] for p in points) - margin))
    right = min(width, int(max(p[0] for p in points) + margin))
    top = max(0, int(min(p[1] for p in points) - margin))
    bottom = min(height, int(max(p[1] for p in points) + margin))
    return (left, top, max(right, left + 1), max(bottom, top + 1))


def _draw_levels(draw: Any, run: MeasureRun, px: Any, box: tuple[int, int, int, int],
                 panel_x: int) -> None:
    import numpy as np  # noqa: PLC0415

    small, large = _font(15), _font(17)
    by_level = {entry["level"]: entry for entry in run.document["levels"]}
    for g in run.geometry.levels:
        if g.profile and g.axes and g.centroid_mm:
            axis, ap = np.array(g.axes[0]), np.array(g.axes[1])
            centre = np.array(g.centroid_mm)
            for name in ("posterior", "middle", "anterior"):
                t, s0, s1 = g.profile[name]
                a = centre + ap * t + axis * s0
                b = centre + ap * t + axis * s1
                (x0, y0), (x1, y1) = px(a[1], a[2]), px(b[1], b[2])
                draw.line([(x0 - box[0], y0 - box[1]), (x1 - box[0], y1 - box[1])],
                          fill=(255, 60, 60), width=2)
    draw.text((8, 8), "ANTERIOR", fill=(255, 255, 255), font=small)
    draw.text((panel_x - 90, 8), "POSTERIOR", fill=(255, 255, 255), font=small)
    y = 12
    draw.text((panel_x + 12, y), "Sagittal reformat through the vertebral bodies",
              fill=(255, 255, 255), font=large)
    y += 26
    draw.text((panel_x + 12, y), "heights posterior / middle / anterior (mm)",
              fill=(200, 200, 200), font=small)
    y += 26
    for g in run.geometry.levels:
        entry = by_level[g.level]
        colour = _COLOURS.get(g.status, (255, 165, 0))
        h = g.heights_mm
        text = f"{g.level:<4}{g.status:<9}"
        if h:
            text += f"{h['posterior']:.1f} / {h['middle']:.1f} / {h['anterior']:.1f}"
        if entry.get("height_loss_percent") is not None:
            text += f"  loss {entry['height_loss_percent']:.0f}% G{entry['genant_grade']}"
        draw.text((panel_x + 12, y), text, fill=colour, font=small)
        if g.centroid_mm:
            cx, cy = px(g.centroid_mm[1], g.centroid_mm[2])
            half = (g.depth_mm or 30.0) / 2 * _PX_PER_MM
            draw.text((max(2.0, cx - box[0] - half - 60), cy - box[1] - 8), g.level,
                      fill=colour, font=large)
        y += 21
        for flag in g.flags[:2]:
            draw.text((panel_x + 28, y), flag[:52], fill=(255, 190, 90), font=small)
            y += 19
    y += 10
    for line in ("green: measured   orange: flagged   red: clipped",
                 "red lines: measured heights", "Suggestions only: a clinician confirms."):
        draw.text((panel_x + 12, y), line, fill=(200, 200, 200), font=small)
        y += 20

"""``spinemets imaging measure`` on a full-size CT: wall time, CPU time and peak memory.

Run: ``.venv/bin/python benchmarks/bench_imaging.py [--shape 512 512 300] [--spacing 0.8 0.8 1.0]
[--overlay]``. Needs the ``imaging`` extra. A synthetic CT (int16, soft tissue with noise) and
its vertebra label mask (uint8, box-shaped bodies with two posterior bars each, named by the
label table in the header, plus a per-level body mask) are written as NIfTI into a temporary
folder; then one child process reads and measures them, so that its peak resident memory
(``ru_maxrss``) is that of the measurement alone (file reading included). Target: under 10 s and
2 GB on 2 cores. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from spinemets.imaging import VERTEBRA_ORDER

_CHILD = """
import json, resource, sys, time
from pathlib import Path
t0, c0 = time.perf_counter(), time.process_time()
from spinemets.imaging import measure_files
folder = Path(sys.argv[1])
run = measure_files(folder / "ct.nii", folder / "mask.nii", body_mask=folder / "bodies.nii")
png = b""
if sys.argv[2] == "1":
    from spinemets.imaging._overlay import render_overlay
    png = render_overlay(run)
levels = run.document["levels"]
print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "levels": len(levels), "png_bytes": len(png),
                  "measured": sum(e["status"] == "measured" for e in levels)}))
"""


def _table(names: dict[int, str]) -> bytes:
    rows = "".join(f'<Label Key="{k}"><![CDATA[{v}]]></Label>' for k, v in names.items())
    return (f"<CaretExtension><VolumeInformation><LabelTable>{rows}</LabelTable>"
            "</VolumeInformation></CaretExtension>").encode()


def write_case(folder: Path, shape: tuple[int, int, int],
               spacing: tuple[float, float, float]) -> int:
    """Write ct.nii, mask.nii and bodies.nii; return the number of vertebrae."""
    nx, ny, nz = shape
    sx, sy, sz = spacing
    rng = np.random.default_rng(0)
    ct = rng.normal(40, 20, size=shape).astype(np.int16)
    mask = np.zeros(shape, dtype=np.uint8)
    bodies = np.zeros(shape, dtype=np.uint8)
    height, gap = int(27 / sz), int(9 / sz)
    cx, cy = nx // 2, ny // 2
    wx, dy = int(42 / sx), int(32 / sy)
    names: dict[int, str] = {}
    z, rank = nz - height - 2, VERTEBRA_ORDER.index("T6")
    while z > 2 and rank < len(VERTEBRA_ORDER) - 1:
        index = 60 - rank  # not in anatomical order
        names[index] = f"vertebrae_{VERTEBRA_ORDER[rank]}"
        body = (slice(cx - wx // 2, cx + wx // 2), slice(cy, cy + dy), slice(z, z + height))
        mask[body] = index
        bodies[body] = index
        for left in (cx - wx // 2 + 4, cx + wx // 2 - 14):
            mask[left:left + int(9 / sx), cy - int(28 / sy):cy, z + 4:z + height - 4] = index
        z -= height + gap
        rank += 1
    ct[mask > 0] = rng.normal(230, 40, size=int((mask > 0).sum())).astype(np.int16)
    affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(ct, affine), folder / "ct.nii")
    for name, data in (("mask", mask), ("bodies", bodies)):
        image = nib.Nifti1Image(data, affine)
        image.header.extensions.append(nib.nifti1.Nifti1Extension(0, _table(names)))
        nib.save(image, folder / f"{name}.nii")
    return len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(512, 512, 300))
    parser.add_argument("--spacing", type=float, nargs=3, default=(0.8, 0.8, 1.0))
    parser.add_argument("--overlay", action="store_true", help="also render the overlay PNG")
    args = parser.parse_args()
    shape, spacing = tuple(args.shape), tuple(args.spacing)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        count = write_case(folder, shape, spacing)
        print(f"wrote CT {shape[0]} x {shape[1]} x {shape[2]} ({np.prod(shape) / 1e6:.0f} M "
              f"voxels, {spacing} mm) + masks with {count} vertebrae in "
              f"{time.perf_counter() - start:.1f} s")
        child = subprocess.run([sys.executable, "-c", _CHILD, str(folder),
                                "1" if args.overlay else "0"],
                               capture_output=True, text=True, check=True, timeout=600)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"measure: wall {figures['wall_s']:.2f} s, CPU {figures['cpu_s']:.2f} s, peak RSS "
          f"{max(peak, figures['peak_mb']):.0f} MB; {figures['levels']} levels, "
          f"{figures['measured']} measured" + (f", overlay {figures['png_bytes'] / 1e3:.0f} kB"
                                               if args.overlay else ""))
    print("target: < 10 s and < 2048 MB on 2 cores")


if __name__ == "__main__":
    main()

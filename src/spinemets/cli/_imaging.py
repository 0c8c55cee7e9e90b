"""``spinemets imaging measure``: CT + vertebra masks -> per-level measurements and SINS
suggestions (JSON or text). The imaging modules are imported inside the command only, so the
rest of the CLI starts without numpy, nibabel or pydicom."""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from spinemets.cli._output import dump_json, fail

__all__ = ["register"]

imaging_app = typer.Typer(
    name="imaging",
    help="Measure vertebrae from a CT and its vertebra masks; suggest SINS components for a "
    "clinician to confirm (needs the 'imaging' extra).",
    no_args_is_help=True,
)


class ImagingFormat(StrEnum):
    json = "json"
    text = "text"


def _text(document: dict[str, Any]) -> str:
    lines = [f"{document['format']}  grid {document['grid']['shape']} voxels, "
             f"{document['grid']['spacing_mm']} mm"]
    lines += [f"warning: {w}" for w in document["warnings"]]
    for level in document["levels"]:
        h = level["heights_mm"] or {}
        heights = (f"post {h['posterior']:.1f} / mid {h['middle']:.1f} / ant "
                   f"{h['anterior']:.1f} mm" if h else "no heights")
        collapse = level["suggestions"]["collapse"]
        loss = level.get("height_loss_percent")
        suggestion = (f"collapse: {collapse.get('label') or collapse.get('value')} "
                      f"({collapse.get('confidence')} confidence, confirm)"
                      if collapse.get("value") else
                      collapse.get("not_suggested") or collapse.get("why_open") or "open")
        lines.append(f"{level['level']:>3}  {level['status']:<8} {heights}"
                     + (f"  loss {loss:.1f}% Genant {level['genant_grade']}"
                        if loss is not None else "") + f"  {suggestion}")
        lines += [f"       flag: {f}" for f in level["flags"]]
    lines.append(document["genant"])
    lines.append(document["disclaimer"])
    return "\n".join(lines) + "\n"


def _refuse_overwrite(outputs: list[Path | None], inputs: list[Path]) -> None:
    """Refuse, before any work, an output that is an input file or the other output."""
    seen = {p.resolve() for p in inputs}
    for path in outputs:
        if path is None:
            continue
        if path.resolve() in seen:
            fail(f"the output {path.name} is one of the input files or the other output; "
                 "choose another name")
        seen.add(path.resolve())


def _write(path: Path, payload: bytes) -> None:
    """Write atomically (a temporary file renamed over the target)."""
    target = path.resolve()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, target)
    except OSError as exc:
        fail(f"cannot write {path.name}: {exc.strerror}")


def measure_command(  # noqa: PLR0917 - typer options are parameters
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI file or a folder with one DICOM "
                                            "series.")],
    mask: Annotated[Path, typer.Argument(help="Vertebra label mask: NIfTI with named labels "
                                              "(header label table or --label-map), or a DICOM "
                                              "SEG whose segment labels name the vertebrae "
                                              "(CT then a DICOM series folder).")],
    label_map: Annotated[Path | None, typer.Option(
        "--label-map", help='JSON {"index": "vertebrae_L1", ...} naming the mask labels.')]
    = None,
    body_mask: Annotated[Path | None, typer.Option(
        "--body-mask", help="Vertebral body mask, NIfTI or DICOM SEG (a 'vertebrae_body' "
        "label or per-level "
        "bodies); without it the body is derived from the vertebra mask.")] = None,
    lesion_mask: Annotated[Path | None, typer.Option(
        "--lesion-mask", help="Lesion mask, NIfTI or DICOM SEG (non-zero = lesion) for bone "
        "quality and "
        "posterolateral hints.")] = None,
    fmt: Annotated[ImagingFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ImagingFormat.json),
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Output file (standard output when left out).")] = None,
    overlay: Annotated[Path | None, typer.Option(
        "--overlay", help="Write a sagittal overlay PNG (outlines, heights, flags).")] = None,
) -> None:
    """Measure every named vertebra; print heights, height loss, Genant grade and SINS
    suggestions (each with its basis and a confidence, for a clinician to confirm)."""
    try:
        from spinemets.imaging import measure_files  # noqa: PLC0415 - heavy, optional
    except ModuleNotFoundError as exc:
        fail(f"the imaging extra is not installed ({exc.name} missing): "
             "pip install 'spinemets[imaging]'")
    from spinemets.errors import SpinemetsError  # noqa: PLC0415

    inputs = [p for p in (ct, mask, label_map, body_mask, lesion_mask) if p is not None]
    _refuse_overwrite([overlay, output], inputs)
    try:
        run = measure_files(ct, mask, label_map=label_map, body_mask=body_mask,
                            lesion_mask=lesion_mask)
    except SpinemetsError as exc:
        fail(exc)
    except MemoryError:
        fail("not enough memory to read these images")
    if overlay is not None:
        from spinemets.imaging._overlay import render_overlay  # noqa: PLC0415

        _write(overlay, render_overlay(run))
        run.document["overlay"] = overlay.name
    text = dump_json(run.document) + "\n" if fmt is ImagingFormat.json else _text(run.document)
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output, text.encode("utf-8"))


def register(app: typer.Typer) -> None:
    if not imaging_app.registered_commands:  # once, however many apps are built
        imaging_app.command("measure")(measure_command)
    app.add_typer(imaging_app)

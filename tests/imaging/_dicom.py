"""Write a volume as an axial DICOM CT series (for tests: the same voxels read back as DICOM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from spinemets.imaging import Volume


def write_series(folder: Path, volume: Volume, *, shuffle: bool = True,
                 frame_of_reference: str | None = None) -> str:
    """One file per axial slice (LPS patient coordinates, rows towards posterior, columns
    towards left), written in a shuffled order; returns the series UID."""
    folder.mkdir(parents=True, exist_ok=True)
    data = np.rint(np.asarray(volume.data)).astype(np.int16)
    nx, ny, nz = data.shape
    sx, sy, sz = volume.spacing_mm
    ox, oy, oz = volume.origin_mm
    study, series = generate_uid(), generate_uid()
    frame = frame_of_reference or generate_uid()
    order = np.random.default_rng(7).permutation(nz) if shuffle else np.arange(nz)
    for n, k in enumerate(order):
        pixels = np.ascontiguousarray(data[::-1, ::-1, k].T)  # [row = P, column = L]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = frame
        ds.Modality = "CT"
        ds.PatientID = "PHANTOM-1"
        ds.PatientBirthDate = ds.PatientSex = ds.StudyDate = ds.StudyTime = ""
        ds.ReferringPhysicianName = ds.StudyID = ds.AccessionNumber = ""
        ds.SeriesNumber = 1
        ds.PatientName = "Phantom^Synthetic"
        ds.InstanceNumber = int(k) + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-(ox + (nx - 1) * sx), -(oy + (ny - 1) * sy), oz + k * sz]
        ds.PixelSpacing = [sy, sx]
        ds.SliceThickness = sz
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"slice_{n:04d}.dcm", enforce_file_format=True)
    return str(series)


def write_seg(path: Path, series: Path, labels: Volume, names: dict[int, str], *,
              keep: tuple[int, ...] | None = None) -> str:
    """A BINARY DICOM SEG of ``labels`` (same grid as the series written by
    :func:`write_series`), one segment per label in ``names`` (renumbered 1..N), labelled with
    its name. Returns the SEG's series UID."""
    import highdicom as hd  # noqa: PLC0415

    sources = sorted((pydicom.dcmread(f) for f in series.iterdir()),
                     key=lambda ds: int(ds.InstanceNumber))
    data = np.asarray(labels.data)
    chosen = [k for k in names if keep is None or k in keep]
    renumbered = np.zeros(data.shape, dtype=np.uint8)
    for number, index in enumerate(chosen, start=1):
        renumbered[data == index] = number
    frames = np.stack([np.ascontiguousarray(renumbered[::-1, ::-1, k].T)
                       for k in range(data.shape[2])])
    algorithm = hd.AlgorithmIdentificationSequence(
        name="synthetic", version="1",
        family=hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence"))
    descriptions = [hd.seg.SegmentDescription(
        segment_number=number, segment_label=names[index],
        segmented_property_category=hd.sr.CodedConcept("91723000", "SCT",
                                                       "Anatomical Structure"),
        segmented_property_type=hd.sr.CodedConcept("123037004", "SCT", "Body structure"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm) for number, index in enumerate(chosen, start=1)]
    uid = generate_uid()
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=uid, series_number=2,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="spinemets tests",
        manufacturer_model_name="phantom", software_versions="1", device_serial_number="0")
    seg.save_as(path)
    return str(uid)

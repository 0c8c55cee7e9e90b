"""Write a volume as an axial DICOM CT series (for tests: the same voxels read back as DICOM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from spinemets.imaging import Volume


def write_series(folder: Path, volume: Volume, *, shuffle: bool = True) -> str:
    """One file per axial slice (LPS patient coordinates, rows towards posterior, columns
    towards left), written in a shuffled order; returns the series UID."""
    folder.mkdir(parents=True, exist_ok=True)
    data = np.rint(np.asarray(volume.data)).astype(np.int16)
    nx, ny, nz = data.shape
    sx, sy, sz = volume.spacing_mm
    ox, oy, oz = volume.origin_mm
    study, series = generate_uid(), generate_uid()
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
        ds.Modality = "CT"
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

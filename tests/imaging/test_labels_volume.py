"""Label names (never indexes), label tables, and orientation from the affine."""

from __future__ import annotations

import numpy as np
import pytest
from tests.imaging._phantoms import label_table_xml

import spinemets.imaging as imaging
from spinemets.errors import InputError
from spinemets.imaging import canonical, label_map_from_json, level_of
from spinemets.imaging._labels import label_map_from_xml, vertebra_labels


def test_public_names():
    assert sorted(imaging.__all__) == [
        "FORMAT", "VERTEBRA_ORDER", "Volume", "canonical", "label_map_from_json", "level_of",
        "measure_files", "measure_volumes"]


@pytest.mark.parametrize(("name", "level"), [
    ("vertebrae_L1", "L1"), ("vertebrae_T12", "T12"), ("vertebra_C1", "C1"),
    ("vertebrae_S1", "S1"), ("vertebrae_T13", None), ("vertebrae_L6", None),
    ("sacrum", None), ("vertebrae_body", None), ("L1", None),
])
def test_level_of(name, level):
    assert level_of(name) == level


def test_label_table_from_header_xml():
    names = label_map_from_xml(label_table_xml({27: "vertebrae_L5", 31: "vertebrae_L1"}))
    assert names == {27: "vertebrae_L5", 31: "vertebrae_L1"}
    assert vertebra_labels(names) == {"L5": 27, "L1": 31}
    assert label_map_from_xml(b"something else") == {}


def test_label_table_with_a_doctype_is_refused():
    payload = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x><Label Key="1">'
               b"&a;</Label></x>")
    with pytest.raises(InputError, match="DOCTYPE"):
        label_map_from_xml(payload)


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"0": "vertebrae_L1"}', "whole number from 1"),
    ('{"x": "vertebrae_L1"}', "whole number from 1"),
    ('{"3": ""}', "non-empty"),
    ('{"3": 5}', "non-empty"),
])
def test_bad_label_maps_name_the_problem(text, message):
    with pytest.raises(InputError, match=message) as info:
        label_map_from_json(text)
    assert info.value.problems[0].field.startswith("label_map")


def test_two_labels_with_one_name_are_refused():
    with pytest.raises(InputError, match="both named vertebrae_L1"):
        vertebra_labels({3: "vertebrae_L1", 9: "vertebrae_L1"})


def test_canonical_undoes_flips_and_permutations():
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    affine = np.diag([1.0, 2.0, 3.0, 1.0])
    base = canonical(data, affine)
    # the same voxels stored with axes permuted and flipped (an LPS-like file)
    stored = np.flip(np.transpose(data, (2, 0, 1)), axis=(1, 2))
    other = np.zeros((4, 4))
    other[2, 0] = 3.0  # stored axis 0 runs superior
    other[0, 1] = -1.0  # stored axis 1 runs left
    other[1, 2] = -2.0  # stored axis 2 runs posterior
    other[:3, 3] = [1.0 * 1, 2.0 * 2, 0.0]
    other[3, 3] = 1.0
    result = canonical(stored, other)
    assert result.orientation == "SLP"
    assert np.array_equal(result.data, base.data)
    assert result.spacing_mm == (1.0, 2.0, 3.0)
    assert result.origin_mm == pytest.approx(base.origin_mm)


def test_oblique_image_is_refused():
    angle = np.radians(10)
    affine = np.eye(4)
    affine[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    with pytest.raises(InputError, match="oblique"):
        canonical(np.zeros((3, 3, 3)), affine)


def test_degenerate_affine_and_shape_are_refused():
    with pytest.raises(InputError, match="voxel size"):
        canonical(np.zeros((3, 3, 3)), np.diag([0.0, 1.0, 1.0, 1.0]))
    with pytest.raises(InputError, match="3-D"):
        canonical(np.zeros((3, 3)), np.eye(4))

"""Lesion mask: body involvement, bone lesion quality and posterolateral hints (UNVERIFIED
implementation rules, labelled as such), never a collapse from a flagged level."""

from __future__ import annotations

import numpy as np
from tests.imaging._phantoms import build

from spinemets.imaging import Volume, measure_volumes

LEVELS = ["T12", "L1", "L2", "L3", "L4"]


def _run(phantom, lesion):
    return measure_volumes(phantom.ct, phantom.labels, phantom.label_map, body=phantom.bodies,
                           body_label_map=phantom.label_map,
                           lesion=Volume(lesion, phantom.ct.spacing_mm, phantom.ct.origin_mm,
                                         "RAS"))


def _level(run, level):
    return next(e for e in run.document["levels"] if e["level"] == level)


def test_lytic_lesion_over_half_the_body_with_unilateral_posterior_extension():
    phantom = build(LEVELS, posterior=True)
    (index,) = (k for k, v in phantom.label_map.items() if v == "vertebrae_L2")
    body = np.asarray(phantom.bodies.data) == index
    vertebra = np.asarray(phantom.labels.data) == index
    lesion = np.zeros(body.shape, dtype=bool)
    xs = np.nonzero(body.any(axis=(1, 2)))[0]
    right_part = np.zeros_like(body)
    right_part[int(np.percentile(xs, 30)):, :, :] = True
    lesion |= body & right_part  # about 70 % of the body, the right side
    posterior = vertebra & ~body
    lesion |= posterior & right_part & (np.arange(body.shape[0]) > xs.mean())[:, None, None]
    ct = np.asarray(phantom.ct.data).copy()
    ct[lesion] = -20  # bone replaced by soft tissue density: lytic
    phantom.ct = Volume(ct, phantom.ct.spacing_mm, phantom.ct.origin_mm, "RAS")
    entry = _level(_run(phantom, lesion), "L2")
    suggestions = entry["suggestions"]
    assert suggestions["bone_lesion"]["value"] == "lytic"
    assert suggestions["bone_lesion"]["basis"]["rule"].startswith("UNVERIFIED")
    assert suggestions["posterolateral"]["value"] == "unilateral"
    assert suggestions["posterolateral"]["basis"]["lesion_in_posterior_elements_ml"]["left"] == 0
    collapse = suggestions["collapse"]
    assert collapse["value"] == "no_collapse_over_50_involved"
    assert collapse["basis"]["body_involvement_by_lesion"] > 0.5
    assert "bone_lesion" not in _level(_run(phantom, lesion), "L3")["suggestions"]


def test_blastic_lesion_and_bilateral_involvement():
    phantom = build(LEVELS, posterior=True)
    (index,) = (k for k, v in phantom.label_map.items() if v == "vertebrae_L3")
    body = np.asarray(phantom.bodies.data) == index
    vertebra = np.asarray(phantom.labels.data) == index
    lesion = vertebra & ~body  # both posterior bars
    core = np.zeros_like(body)
    idx = np.nonzero(body)
    core[tuple(slice(int(i.min()) + 10, int(i.max()) - 10) for i in idx)] = True
    lesion |= body & core
    ct = np.asarray(phantom.ct.data).copy()
    ct[lesion] = 900
    phantom.ct = Volume(ct, phantom.ct.spacing_mm, phantom.ct.origin_mm, "RAS")
    suggestions = _level(_run(phantom, lesion), "L3")["suggestions"]
    assert suggestions["bone_lesion"]["value"] == "blastic"
    assert suggestions["posterolateral"]["value"] == "bilateral"

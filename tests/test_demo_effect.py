"""The demo's region effect map: which change each closed gate makes, and where."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.demo.effect import effect_picture, gate_effects, share_inside

SETTINGS = [{"audio": 1.0, "motion": 1.0}, {"audio": 1.0, "motion": 0.0}, {"audio": 0.0, "motion": 1.0}]


def _videos(f=4, h=16, w=16):
    """All open; motion closed changes the top rows; audio closed changes a bottom box."""
    base = np.full((f, h, w, 3), 100, np.uint8)
    no_motion, no_audio = base.copy(), base.copy()
    no_motion[:, :4] += 30
    no_audio[:, 12:, 6:10] -= 60
    return [base, no_motion, no_audio]


def test_each_closed_gate_maps_to_its_own_change():
    effects = gate_effects(_videos(), SETTINGS)
    assert set(effects) == {"audio", "motion"}
    assert effects["motion"][:4].min() == 30 and effects["motion"][4:].max() == 0
    assert effects["audio"][12:, 6:10].min() == 60 and effects["audio"].sum() == 60 * 16


def test_without_an_all_open_setting_there_is_nothing_to_compare():
    assert gate_effects(_videos()[1:], SETTINGS[1:]) == {}


def test_share_inside_separates_a_local_change_from_a_global_one():
    mask = np.zeros((16, 16))
    mask[12:, 6:10] = 1
    local = share_inside(gate_effects(_videos(), SETTINGS)["audio"], mask)
    assert local["share"] == pytest.approx(1.0) and local["outside"] == 0 and local["inside"] == 60
    assert local["area"] == pytest.approx(16 / 256)
    everywhere = share_inside(np.ones((16, 16)), mask)
    assert everywhere["share"] == pytest.approx(everywhere["area"]) and everywhere["inside"] == everywhere["outside"]


def test_effect_picture_is_written(tmp_path):
    videos = _videos()
    effects = gate_effects(videos, SETTINGS)
    masks = {"audio": np.pad(np.ones((4, 4)), ((12, 0), (6, 6))), "motion": np.pad(np.ones((4, 16)), ((0, 12), (0, 0)))}
    path = effect_picture(tmp_path / "e.png", videos[0][0], effects, masks, {"audio": "mouth", "motion": "upper_face"})
    assert path.is_file() and path.stat().st_size > 1000

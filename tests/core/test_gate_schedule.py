"""Gate schedules: parsing (text, mapping, file), interpolation per frame, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from actalker.core import gate_schedule as gs
from actalker.errors import InputError


def test_constants_keep_the_old_form():
    out = gs.parse_args(["a=1,b=0.5"])
    assert {k: v.constant for k, v in out.items()} == {"a": 1.0, "b": 0.5}
    assert gs.resolve(out, 4, 25.0) == {"a": 1.0, "b": 0.5}
    assert gs.to_json(out) == {"a": 1.0, "b": 0.5}


def test_keyframes_continue_after_a_pair_and_interpolate_linearly():
    out = gs.parse_args(["a=1", "b=0@0s,1@2s,0.3@4s"])
    g = out["b"].per_frame(5 * 25, 25.0)
    assert g.shape == (125,) and g.dtype == np.float32
    assert g[0] == 0 and g[25] == pytest.approx(0.5) and g[50] == pytest.approx(1.0)
    assert g[75] == pytest.approx(0.65) and g[100] == pytest.approx(0.3)
    assert np.all(g[100:] == pytest.approx(0.3))  # holds the last value


def test_frame_units_and_mixed_units():
    sched = gs.parse_schedule("b", "1@10f,0@1s")  # mixed units: order known only with the fps
    assert sched.per_frame(30, 20.0)[15] == pytest.approx(0.5)  # 1 s at 20 fps = frame 20
    with pytest.raises(InputError, match="keyframe times .* must increase"):
        sched.per_frame(30, 10.0)  # 1 s at 10 fps = frame 10: not after 10f
    g = gs.parse_schedule("b", "0@0f,1@10f").per_frame(20, 25.0)
    assert g[5] == pytest.approx(0.5) and g[15] == 1


def test_before_the_first_keyframe_holds_its_value():
    g = gs.parse_schedule("b", "0.2@1s,1@2s").per_frame(75, 25.0)
    assert np.all(g[:26] == pytest.approx(0.2))


@pytest.mark.parametrize("item, expected", [
    ("a=loud", "--gate a: 'loud': expected a number >= 0"),
    ("a=-1", "expected a finite number >= 0"),
    ("a=nan", "expected a finite number >= 0"),
    ("b=0@0s,1@2x", "--gate b: '1@2x': expected VALUE@TIME"),
    ("b=0@0s,1", "--gate b: '1': expected VALUE@TIME"),
    ("b=0@2s,1@1s", "keyframe times that increase"),
    ("b=0@1s,1@1s", "keyframe times that increase"),
    ("0.5", "--gate expects NAME=VALUE"),
    ("=1", "--gate expects NAME=VALUE"),
    ("a=1,a=2", "--gate a: given twice"),
])
def test_one_line_errors_name_branch_and_token(item, expected):
    with pytest.raises(InputError) as err:
        gs.parse_args([item])
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_branch_twice_across_flags():
    with pytest.raises(InputError, match="given twice"):
        gs.parse_args(["a=1", "a=0@0s,1@1s"])


def test_json_and_yaml_files(tmp_path):
    j = tmp_path / "g.json"
    j.write_text(json.dumps({"a": 1, "b": {"0s": 0, "2s": 1}, "c": [[0, 1], ["25f", 0]], "d": "0@0s,1@1s"}))
    y = tmp_path / "g.yaml"
    y.write_text("a: 0.5\nb:\n  0s: 1\n  1s: 0\n")
    out = gs.parse_args([str(j)])
    assert out["a"].constant == 1 and out["b"].per_frame(51, 25.0)[25] == pytest.approx(0.5)
    assert out["c"].per_frame(30, 25.0)[25] == 0 and out["d"].per_frame(30, 25.0)[25] == 1
    out = gs.parse_args([str(y)])
    assert out["a"].constant == 0.5 and out["b"].per_frame(30, 25.0)[25] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="expected a mapping of branch"):
        gs.parse_args([str(bad)])
    with pytest.raises(InputError, match="no such file"):
        gs.parse_args([str(tmp_path / "missing.json")])
    (tmp_path / "t.yaml").write_text("a: yes\n")
    with pytest.raises(InputError, match="expected a number"):
        gs.parse_args([str(tmp_path / "t.yaml")])


def test_api_mapping_keeps_arrays_and_saves_schedules():
    gates = gs.from_mapping({"a": 1, "b": "0@0s,1@1s", "c": np.ones(4, np.float32), "d": [0.0, 0.5, 1.0, 1.0]})
    vals = gs.resolve(gates, 4, 2.0)
    assert vals["a"] == 1.0 and np.allclose(vals["b"], [0, 0.5, 1, 1]) and vals["c"].shape == (4,)
    saved = gs.to_json(gates)
    assert saved["a"] == 1.0 and saved["b"]["schedule"] == "0@0s,1@1s" and saved["d"] == [0.0, 0.5, 1.0, 1.0]
    assert saved["b"]["keyframes"][1] == {"value": 1.0, "time": 1.0, "unit": "s"}
    json.dumps(saved)

"""The sweep file: variants from a list and a grid, deltas as dotlists or mappings, and
one-line errors naming the file and key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actalker.config import load_config
from actalker.errors import ConfigError
from actalker.sweep.spec import load_sweep, parse_sweep, to_dotlist

REPO = Path(__file__).resolve().parents[2]


def test_list_and_grid_expand_to_named_runs():
    sweep = parse_sweep({"base": "base.yaml", "budget": {"train.max_steps": 5}, "seeds": [3],
                         "variants": [{"name": "full", "seeds": [0, 1]}, {"name": "no_pcm", "delta": ["model.pcm.enabled=false"]}],
                         "grid": {"model.pcm.d_state": [4, 8], "model.pcm.mixer": ["mamba", "attention"]}})
    names = [v[0] for v in sweep.variants]
    assert names == ["full", "no_pcm", "d_state=4,mixer=mamba", "d_state=4,mixer=attention",
                     "d_state=8,mixer=mamba", "d_state=8,mixer=attention"]
    runs = sweep.runs()
    assert [r.key for r in runs[:3]] == ["full/seed-0", "full/seed-1", "no_pcm/seed-3"]
    last = runs[-1]
    assert last.delta == ["model.pcm.d_state=8", "model.pcm.mixer=attention"]
    cfg, _ = load_config(sweep.base, last.overrides)
    assert (cfg.model.pcm.d_state, cfg.model.pcm.mixer, cfg.train.max_steps, cfg.seed, cfg.train.seed) == (8, "attention", 5, 3, 3)
    assert [r.key for r in sweep.runs(only=["no_pcm"])] == ["no_pcm/seed-3"]


def test_mapping_delta_equals_dotlist_and_null_removes_a_branch():
    as_map = to_dotlist({"model": {"branches": {"motion": None}, "pcm": {"mixer": "attention"}},
                         "train": {"mixed_precision": "no"}}, "t")
    assert as_map == ["model.branches.motion=null", "model.pcm.mixer=attention", 'train.mixed_precision="no"']
    cfg, _ = load_config(None, as_map)
    assert list(cfg.model.branches) == ["audio"] and cfg.train.mixed_precision == "no"
    # the removed branch also leaves the guidance chain, so the model can still sample
    assert cfg.guidance.order == ["audio"] and set(cfg.guidance.scales) == {"audio"}


def test_shipped_sweeps_are_valid():
    ablation = load_sweep(REPO / "sweeps" / "paper_ablation.yaml")
    names = [v[0] for v in ablation.variants]
    assert names == ["full", "no_pcm", "mask_none", "no_id_token", "mixer_attention", "spatiotemporal_scan",
                     "audio_only", "motion_only", "cond_sequence"]
    assert len([r for r in ablation.runs() if r.variant == "full"]) >= 2
    for run in ablation.runs():
        load_config(ablation.base, run.overrides)  # every delta is a valid config
    tiny = load_sweep(REPO / "sweeps" / "ci_tiny.yaml")
    assert len(tiny.variants) == 2


@pytest.mark.parametrize("data, message", [
    ({"variants": [{"name": "a", "delta": ["x"]}]}, "must look like key.path=value"),
    ({"variants": [{"name": "a"}, {"name": "a"}]}, "two variants are named 'a'"),
    ({"variants": [{"name": "a/b"}]}, "variant name 'a/b'"),
    ({"variants": [{"name": "a", "detla": []}]}, "unknown key 'variants.0.detla'; did you mean 'variants.0.delta'"),
    ({"seeds": [1, 1], "variants": [{"name": "a"}]}, "seeds must be distinct"),
    ({}, "no variants"),
    ({"grid": {"model.pcm.d_state": []}}, "grid key 'model.pcm.d_state' has no values"),
    ([1, 2], "must be a YAML mapping"),
])
def test_errors_are_one_line(data, message):
    with pytest.raises(ConfigError) as err:
        parse_sweep(data, Path("s.yaml"))
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("s.yaml")


def test_unknown_only_and_missing_file(tmp_path):
    sweep = parse_sweep({"variants": [{"name": "a"}]})
    with pytest.raises(ConfigError, match="--only b: no such variant"):
        sweep.runs(only=["b"])
    with pytest.raises(ConfigError, match="not found"):
        load_sweep(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("variants: [\n")
    with pytest.raises(ConfigError, match="could not be read"):
        load_sweep(bad)


def test_base_path_is_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({"train": {"max_steps": 7}}))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"base": "tiny.yaml", "variants": [{"name": "a"}]}))
    sweep = load_sweep(tmp_path / "s.yaml")
    assert sweep.base == str((tmp_path / "tiny.yaml").resolve())
    cfg, _ = load_config(sweep.base, sweep.runs()[0].overrides)
    assert cfg.train.max_steps == 7


def test_eval_overrides_change_the_eval_section_and_are_checked(tmp_path):
    from actalker.sweep.spec import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text("base: demo\neval: {clips: 8, frames: 25}\nvariants: [{name: full}]\n")
    sweep = load_sweep(path, ["data=runs/heldout", "split=all", "frames=100"])
    assert (sweep.spec.eval.data, sweep.spec.eval.split, sweep.spec.eval.frames, sweep.spec.eval.clips) == \
        ("runs/heldout", "all", 100, 8)
    assert load_sweep(path).spec.eval.frames == 25 and load_sweep(path).spec.eval.data is None
    with pytest.raises(ConfigError, match="frame"):
        load_sweep(path, ["frame=100"])  # a typo of a key is named
    with pytest.raises(ConfigError, match=r"--eval 'frames' must look like key=value"):
        load_sweep(path, ["frames"])

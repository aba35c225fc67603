"""Seed noise and expected orders in a sweep's results (actalker/sweep/noise.py)."""
from __future__ import annotations

import pytest
import yaml

from actalker.errors import ConfigError
from actalker.sweep.noise import noise_sd, noise_text, order_step, orders_text
from actalker.sweep.results import by_variant, write_results
from actalker.sweep.spec import parse_sweep


def runs(**per_variant):
    """{variant: [metric value per seed] or None (pending)} -> read_runs-style rows of metric 'm'."""
    rows = []
    for name, values in per_variant.items():
        for seed, v in enumerate(values or [None]):
            rows.append({"variant": name, "seed": seed, "delta": name, "error": "",
                         "status": "pending" if v is None else "done", "metrics": {} if v is None else {"m": v}})
    return by_variant(rows)


def test_noise_is_the_largest_seed_sd_of_the_variants_compared():
    full, flat, one = runs(full=[0.8, 0.6], flat=[0.0, 0.0], one=[0.5])
    assert noise_sd("m", full, flat) == pytest.approx(0.1414, abs=1e-4)   # not the pooled 0.1
    assert noise_sd("m", flat, one) == 0.0 and noise_sd("m", one) is None


def test_order_steps_hold_reverse_or_stay_within_noise():
    full, a, b, c = runs(full=[0.8, 0.6], a=[0.65], b=[0.2], c=[0.9])
    assert order_step("m", full, b, full)[0] == "holds"            # 0.5 > 2 x 0.141
    assert order_step("m", full, a, full)[0] == "within noise"     # 0.05
    assert order_step("m", full, c, full)[0] == "within noise"     # -0.2, inside 0.283
    assert order_step("m", b, full, full)[0] == "reversed"
    lone_a, lone_b = runs(x=[0.3], y=[0.1])
    assert order_step("m", lone_a, lone_b, None)[0] == "noise unknown"


def test_orders_text_gives_a_verdict_per_order():
    variants = runs(full=[0.8, 0.6], no_id=[0.65], mask=[0.2], none_yet=None)
    order = parse_sweep({"variants": [{"name": n} for n in ("full", "no_id", "mask", "none_yet")],
                         "orders": [{"metric": "m", "variants": ["full", "mask"], "label": "the paper"},
                                    {"metric": "m", "variants": ["full", "no_id", "mask"]},
                                    {"metric": "m", "variants": ["mask", "full"]},
                                    {"metric": "m", "variants": ["full", "none_yet"]},
                                    {"metric": "typo", "variants": ["full", "mask"]}]}).spec.orders
    text = orders_text(variants, order)
    lines = [x for x in text.splitlines() if x.startswith("- ")]
    assert "(the paper)" in lines[0] and "**holds, every step beyond seed noise**" in lines[0]
    assert "**not shown" in lines[1] and "  - full > no_id: within noise" in text
    assert "**does not hold" in lines[2]
    assert "**incomplete" in lines[3]
    assert "no such metric" in lines[4] and "columns: m" in lines[4]


def test_noise_text_screens_against_the_reference_seeds():
    text = noise_text(runs(full=[0.8, 0.6], far=[0.1], near=[0.75]), ["m"])
    assert "- far: m -0.600 (sd 0.141)" in text and "- near: none" in text
    assert "unknown" in noise_text(runs(a=[0.1], b=[0.2]), ["m"])


def test_an_order_naming_an_unknown_variant_is_a_config_error():
    with pytest.raises(ConfigError, match=r"orders\[0\] names variant 'fulll'.*variants: full, no_pcm"):
        parse_sweep({"variants": [{"name": "full"}, {"name": "no_pcm"}],
                     "orders": [{"metric": "m", "variants": ["fulll", "no_pcm"]}]})
    with pytest.raises(ConfigError, match="at least 2"):
        parse_sweep({"variants": [{"name": "full"}], "orders": [{"metric": "m", "variants": ["full"]}]})


def test_results_md_carries_the_orders(tmp_path):
    import json

    sweep = parse_sweep(yaml.safe_load("""
variants: [{name: full, seeds: [0, 1]}, {name: no_pcm}]
orders: [{metric: m, variants: [full, no_pcm], label: the paper}]
"""))
    for variant, seed, value in (("full", 0, 0.8), ("full", 1, 0.7), ("no_pcm", 0, 0.0)):
        d = tmp_path / variant / f"seed-{seed}"
        d.mkdir(parents=True)
        (d / "done.json").write_text(json.dumps({"metrics": {"m": value}}))
    md = write_results(tmp_path, sweep)["md"].read_text()
    assert "- `m` (the paper): full > no_pcm: **holds, every step beyond seed noise**" in md

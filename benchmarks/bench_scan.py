"""pytest-benchmark cases for the selective scan (see scan_report.py for what is measured).

    .venv/bin/python -m pytest benchmarks/bench_scan.py -m benchmark --benchmark-only

Peak memory above the inputs (one run in a fresh subprocess) goes to each case's extra_info
(``--benchmark-json out.json`` keeps it).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scan_report as sr  # noqa: E402

PARAMS = [
    pytest.param(impl, mode, name, id=f"{name}-{mode}-{impl}")
    for name in sr.CASES
    for mode in ("fwd", "fwdbwd")
    for impl in sr.IMPLS
    if not (impl == "reference" and name != "small") and not (impl == "floor" and mode == "fwdbwd")
]


@pytest.mark.benchmark(group="selective_scan")
@pytest.mark.parametrize("impl,mode,name", PARAMS)
def test_selective_scan(benchmark, impl, mode, name):
    pytest.importorskip("mambapy")
    case = sr.CASES[name]
    inp = sr.make_inputs(*case, grad=(mode == "fwdbwd" and impl != "floor"))
    benchmark.extra_info["case (b, d, N, L)"] = case
    benchmark.extra_info["peak_mib_above_inputs"] = round(sr.measure_peak(impl, case, mode), 1)
    rounds = 1 if impl == "reference" or (name == "large" and impl == "mambapy") else 3
    benchmark.pedantic(sr.run_once, args=(impl, inp, mode), rounds=rounds, warmup_rounds=1, iterations=1)

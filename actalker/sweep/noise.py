"""What counts as seed noise in a sweep's results, and the checks that use it.

One rule (``noise_sd``): two variants differ on a metric beyond seed noise when their means
differ by more than ``k`` (2) times the largest seed-to-seed sd among the two variants and
the reference variant (the first with several seeds). The largest, not a pooled sd: a
variant that learns nothing repeats itself across seeds (sd ~0) and would make noise look
smaller than it is for trained models. With two seeds an sd is a rough estimate, so read
the verdicts as a screen, not a test.
"""
from __future__ import annotations

from typing import Optional

K = 2.0


def reference_variant(variants: list[dict]) -> Optional[dict]:
    """The variant whose seeds measure the noise: the first with several finished seeds."""
    return next((v for v in variants if len(v["seeds"]) > 1), None)


def noise_sd(metric: str, *variants: Optional[dict]) -> Optional[float]:
    """The largest seed sd of ``metric`` among ``variants`` (None where none has several seeds)."""
    sds = [v["metrics"][metric]["sd"] for v in variants
           if v is not None and metric in v["metrics"] and v["metrics"][metric]["sd"] is not None]
    return max(sds) if sds else None


def noise_text(variants: list[dict], columns: list[str], k: float = K) -> str:
    """Which differences from the reference variant exceed ``k`` x the seed noise."""
    ref = reference_variant(variants)
    if ref is None:
        return "No variant has several seeds: seed-to-seed noise is unknown.\n"
    lines = [f"Differences from `{ref['variant']}` larger than {k:g} x the seed-to-seed sd (the larger of "
             f"`{ref['variant']}`'s, seeds {', '.join(map(str, ref['seeds']))}, and the variant's own):", ""]
    for v in variants:
        if v is ref or not v["metrics"]:
            continue
        big = []
        for c in columns:
            r, m, sd = ref["metrics"].get(c), v["metrics"].get(c), noise_sd(c, ref, v)
            if r is None or m is None or sd is None:
                continue
            if abs(m["mean"] - r["mean"]) > k * sd:
                big.append(f"{c} {m['mean'] - r['mean']:+.3f} (sd {sd:.3f})")
        lines.append(f"- {v['variant']}: " + ("; ".join(big) if big else "none"))
    return "\n".join(lines) + "\n"


def order_step(metric: str, hi: Optional[dict], lo: Optional[dict], ref: Optional[dict], k: float = K) -> tuple[str, str]:
    """Is ``hi`` above ``lo`` on ``metric``? (verdict, detail); verdicts: holds, reversed,
    within noise, noise unknown (one seed everywhere: the sign only), pending."""
    if hi is None or lo is None or metric not in hi["metrics"] or metric not in lo["metrics"]:
        return "pending", "not measured yet"
    diff = hi["metrics"][metric]["mean"] - lo["metrics"][metric]["mean"]
    sd = noise_sd(metric, hi, lo, ref)
    if sd is None:
        return "noise unknown", f"{diff:+.3f} ({'above' if diff > 0 else 'below'}; no seed sd)"
    detail = f"{diff:+.3f} (noise {k:g} x {sd:.3f} = {k * sd:.3f})"
    if diff > k * sd:
        return "holds", detail
    if diff < -k * sd:
        return "reversed", detail
    return "within noise", detail


def order_verdict(steps: list[str]) -> str:
    if "pending" in steps:
        return "incomplete (runs pending)"
    if "reversed" in steps:
        return "does not hold (reversed beyond seed noise)"
    if all(s == "holds" for s in steps):
        return "holds, every step beyond seed noise"
    return "not shown: some steps are within seed noise (or their noise is unknown)"


def orders_text(variants: list[dict], orders: list, k: float = K) -> str:
    """Each expected order (sweep file ``orders``), step by step, with a verdict."""
    if not orders:
        return ""
    by_name, ref = {v["variant"]: v for v in variants}, reference_variant(variants)
    lines = ["Expected orders (sweep file `orders`), highest first; a step holds when its difference "
             f"exceeds {k:g} x the seed sd (actalker/sweep/noise.py):", ""]
    measured = {m for v in variants for m in v["metrics"]}
    for order in orders:
        label = f" ({order.label})" if order.label else ""
        if measured and order.metric not in measured:
            lines.append(f"- `{order.metric}`{label}: no such metric in the results (columns: {', '.join(sorted(measured))})")
            continue
        steps = []
        for a, b in zip(order.variants, order.variants[1:]):
            verdict, detail = order_step(order.metric, by_name.get(a), by_name.get(b), ref, k)
            steps.append((f"{a} > {b}", verdict, detail))
        lines.append(f"- `{order.metric}`{label}: {' > '.join(order.variants)}: "
                     f"**{order_verdict([s[1] for s in steps])}**")
        lines += [f"  - {name}: {verdict}, {detail}" for name, verdict, detail in steps]
    return "\n".join(lines) + "\n"

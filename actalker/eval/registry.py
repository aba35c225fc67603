"""The video metrics `actalker eval video` computes, by name, and a hook for plugins.

A metric is a ``MetricSpec``: a name, the inputs it needs (``generated`` always; any of
``reference``, ``driving``, ``audio``, ``reference_image``, ``face``), the weights option
it needs (``arcface``, ``syncnet``, ``inception``, ``i3d``; None = none), and
``compute(inputs) -> dict[str, float]`` (``inputs`` is a ``VideoInputs``). A metric whose
weights option is not given is reported as "not computed (give --OPT PATH)", one whose
inputs are missing as "not computed (needs --reference ...)".

Plugins add metrics with the ``register_metrics`` hook (actalker/plugins/hookspecs.py)::

    @hookimpl
    def register_metrics(register):
        register(MetricSpec(name="blink_rate", needs=("driving",), compute=my_fn))
        register(MeasureSpec(name="brows", measure=brow_height))  # for `actalker eval control`

A duplicate name is an error naming both owners.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from actalker.errors import PluginError

WEIGHT_OPTIONS = ("arcface", "syncnet", "inception", "i3d")
INPUTS = ("generated", "reference", "driving", "audio", "reference_image", "face")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    compute: Callable[[Any], dict]
    needs: tuple[str, ...] = ()
    weights: Optional[str] = None
    description: str = ""


@dataclass(frozen=True)
class MeasureSpec:
    """A region measure of generated frames for `actalker eval control`: ``measure(frames
    uint8 (F, H, W, 3), landmarks (1, 478, 3) of the reference face, boxes (1, 4)) -> (F,)``.
    A modality names it in ``ControlTarget(measure=...)``; built in: mouth, eyes."""

    name: str
    measure: Callable[[Any, Any, Any], Any]
    description: str = ""


BUILTIN_MEASURES = ("mouth", "eyes")  # the openness estimator's (actalker.eval.openness)


@dataclass
class MetricRegistry:
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    measures: dict[str, MeasureSpec] = field(default_factory=dict)

    def add(self, spec: Any, owner: str) -> None:
        if isinstance(spec, MeasureSpec):
            self._add_measure(spec, owner)
            return
        if not isinstance(spec, MetricSpec):
            raise PluginError(f"plugin '{owner}' registered {type(spec).__name__}, expected actalker.eval.registry.MetricSpec "
                              "or MeasureSpec")
        if not spec.name or not str(spec.name).isidentifier():
            raise PluginError(f"plugin '{owner}': metric name {spec.name!r} must be a Python identifier")
        if spec.name in self.metrics:
            raise PluginError(f"metric '{spec.name}' is registered twice: by {self.owners[spec.name]} and by {owner}")
        bad = [n for n in spec.needs if n not in INPUTS]
        if bad or (spec.weights is not None and spec.weights not in WEIGHT_OPTIONS):
            raise PluginError(f"plugin '{owner}': metric '{spec.name}' needs unknown inputs {bad or [spec.weights]}; "
                              f"known: {', '.join(INPUTS + WEIGHT_OPTIONS)}")
        self.metrics[spec.name] = spec
        self.owners[spec.name] = owner


    def _add_measure(self, spec: MeasureSpec, owner: str) -> None:
        if not str(spec.name).isidentifier() or spec.name in BUILTIN_MEASURES or spec.name in self.measures:
            raise PluginError(f"plugin '{owner}': measure name {spec.name!r} must be a new Python identifier "
                              f"(taken: {', '.join([*BUILTIN_MEASURES, *self.measures])})")
        if not callable(spec.measure):
            raise PluginError(f"plugin '{owner}': measure '{spec.name}' is not callable")
        self.measures[spec.name] = spec
        self.owners[f"measure:{spec.name}"] = owner


def builtin_metrics() -> list[MetricSpec]:
    from actalker.eval import video_inputs as vi

    return [
        MetricSpec("psnr", vi.compute_psnr, ("reference",), None, "PSNR vs ground truth (self-reenactment)"),
        MetricSpec("ssim", vi.compute_ssim, ("reference",), None, "SSIM vs ground truth (Gaussian window)"),
        MetricSpec("lmd", vi.compute_lmd, ("face",), None, "landmark distance vs ground truth or driving video"),
        MetricSpec("identity", vi.compute_identity, ("reference_image",), "arcface", "ArcFace cosine to the reference face"),
        MetricSpec("sync", vi.compute_sync, ("audio",), "syncnet", "SyncNet Sync-C / Sync-D"),
        MetricSpec("fid", vi.compute_fid, ("reference",), "inception", "FID of frames vs ground-truth frames"),
        MetricSpec("fvd", vi.compute_fvd, ("reference",), "i3d", "FVD of 16-frame clips vs ground truth"),
    ]


def load_metric_registry(plugins: Optional[str] = None, extra=()) -> MetricRegistry:
    """Built-in metrics, then those of plugins implementing ``register_metrics``
    (``plugins``: the ACTALKER_PLUGINS selection; ``extra``: more plugin modules)."""
    from actalker.plugins.manager import build_manager

    reg = MetricRegistry()
    for spec in builtin_metrics():
        reg.add(spec, "builtin")
    pm = build_manager(plugins, extra).pm  # broken installed plugins are left out there
    for impl in pm.hook.register_metrics.get_hookimpls():
        owner = impl.plugin_name
        try:
            impl.function(register=lambda spec, _o=owner: reg.add(spec, _o))
        except PluginError:
            raise
        except Exception as err:
            raise PluginError(f"plugin '{owner}' failed in register_metrics: {type(err).__name__}: {err}") from err
    return reg

"""ACTalkerDenoiser: SVD's spatio-temporal UNet with gated PCM branches, identity and face guider.

Public API (what the pipeline and the training helpers build on)::

    den = ACTalkerDenoiser(unet=dict, pcm=dict, branches=dict, cond_dim=64, identity=dict,
                           face_guider=True, required_plugins=None, registry=None)
        unet:     UNetSpatioTemporalConditionModel kwargs (tiny in tests, SVD's config for real).
        pcm:      {enabled, down_levels, up_levels, scan_mode, mask_mode, mixer, d_state, expand,
                   d_conv, bidirectional, id_token, width, cond_inject}  (defaults: core.config.PCMConfig).
        branches: {name: {modality, gate, region, solo_region, tokens, options}}; None values are
                  filled by actalker.core.branches and saved resolved (see den.config.branches).
        identity: {kind: learned|clip|arcface, dim, weights_path}.
        registry: an actalker.plugins.Registry (default: load_registry()); never saved.
    ACTalkerDenoiser.from_svd(svd_path, branches=..., pcm=..., cond_dim=..., identity=...,
                              face_guider=..., registry=None, subfolder="unet", torch_dtype=None)
        UNet weights from a local diffusers SVD folder; every new module stays fresh, so the
        result computes exactly SVD's UNet (given the same cross-attention context).
    ACTalkerDenoiser.from_model_config(model_cfg, registry=None)   # actalker.core.schema.ModelConfig
    den.save_pretrained(dir) / ACTalkerDenoiser.from_pretrained(dir, registry=None)  # safetensors
    den.enable_gradient_checkpointing()        # diffusers' switch; PCM hooks stay correct
    den.branch_names -> list[str];  den.default_gates -> {branch: float}
    den.encode_conditions({branch: raw (B, F, *feat)}) -> {branch: tokens (B, F, T, cond_dim)}
    den.identity_token(identity (B, dim) | None, sample) -> (B, 1, cross_attention_dim)
    den(sample, timestep, added_time_ids, identity=None, conditions=None, gates=None,
        region_masks=None, face_mask=None, condition_tokens=None, return_dict=True)
        sample:         (B, F, in_channels, h, w): noisy latents ++ reference latents.
        timestep:       float / int / tensor (scalar or (B,)), as the UNet takes it.
        added_time_ids: (B, n_ids) SVD's (fps, motion bucket, noise aug).
        identity:       (B, identity.dim) embedding; None = the learned encoder on the reference
                        latent (kind learned only).
        conditions:     {branch: raw features (B, F, *feature_shape)}; a branch left out is absent
                        (same as gate 0). For guidance pass the plugin's null features instead.
        condition_tokens: {branch: (B, F, T, cond_dim)} already encoded (encode once, reuse per step).
        gates:          {branch: float | (B,) | (B, F)}; missing = the branch's default gate.
        region_masks:   {region or branch name: (B, H, W) | (B, 1, H, W) | (B, F, H, W)} at any
                        resolution, values in [0, 1]; needed unless pcm.mask_mode is none.
        face_mask:      same shapes, for the face guider; None = no guidance.
        -> UNetSpatioTemporalConditionOutput(sample=(B, F, out_channels, h, w)) or a 1-tuple.

Module names avoid the config keys (diffusers resolves config keys first): the UNet is
``den.backbone``, PCM layers ``den.pcm_layers``, encoders ``den.encoders``.
PCM layers are attached with forward hooks on the UNet's spatial transformer blocks (after
the spatial block, before the temporal one), so the UNet's code and weight names are
diffusers' own and SVD checkpoints load unchanged. The hooks read the ``PCMContext`` that
``forward`` binds to the call (a context variable keyed by the denoiser, so one instance
can run two forwards at once; calling ``den.backbone`` directly gives the plain UNet).
Gradient checkpointing binds that context into each checkpointed call, so recomputation in
backward sees the same conditions.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models import ModelMixin, UNetSpatioTemporalConditionModel
from diffusers.models.unets.unet_spatio_temporal_condition import UNetSpatioTemporalConditionOutput
from torch import nn

from actalker.core.branches import resolve_branches
from actalker.core.schema import IDENTITY_KINDS, IdentityConfig, PCMConfig, schema_defaults
from actalker.core.context import PCMContext
from actalker.core import denoiser_loading as loading
from actalker.core.face_guider import FaceGuider
from actalker.core.identity import IdentityProjection, LatentIdentityEncoder
from actalker.core.masks import as_frames, resolve_branch_masks
from actalker.core.pcm import PCMLayer
from actalker.errors import ConfigError, InputError, PluginError, ShapeError

# The forwards in flight in this thread / task: denoiser id -> its PCMContext. Per call, not
# per instance, so one denoiser can run two forwards at once (threads, or one inside a hook).
_FORWARDS: ContextVar[Mapping[int, PCMContext]] = ContextVar("actalker_pcm_forwards", default={})


def _merge(section, given: Optional[Mapping], where: str) -> dict:
    """The schema section's defaults (core.config) under the given keys; a typo is an error."""
    defaults, given = schema_defaults(section), dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (valid: {', '.join(defaults)})")
    return {**defaults, **given}


def _package_of(registry, modality: str) -> str:
    owner = registry.owners.get(f"modality:{modality}")
    info = next((p for p in registry.plugins if p.name == owner), None)
    if info is None or info.source == "builtin":
        return "actalker"
    return info.source.removeprefix("entry point of ").removeprefix("module ")


def _cast(module: nn.Module, dtype: Optional[torch.dtype]) -> nn.Module:
    """nn.Module's cast (ModelMixin.to warns about fp32 modules the denoiser has none of)."""
    return nn.Module.to(module, dtype) if dtype is not None else module


def _grid(size: int, steps: int) -> int:
    for _ in range(steps):  # diffusers' stride-2 conv (k3, p1) downsampler: ceil(x / 2)
        size = (size + 1) // 2
    return size


def _encoder(branch, cond_dim: int) -> nn.Module:
    """The branch plugin's encoder, its output shape checked now (not at the first forward)."""
    from actalker.plugins.calls import call_plugin, check_encoder

    enc = call_plugin(branch, "build_encoder", branch.spec.build_encoder, branch.options, cond_dim)
    check_encoder(branch, enc, cond_dim)
    return enc


class ACTalkerDenoiser(ModelMixin, ConfigMixin):
    _supports_gradient_checkpointing = True
    ignore_for_config = ["registry"]
    config_name = loading.CONFIG_NAME  # not config.json: diffusers' UNet loader refuses the folder

    @register_to_config
    def __init__(self, unet: Optional[dict] = None, pcm: Optional[dict] = None, branches: Optional[dict] = None,
                 cond_dim: int = 64, identity: Optional[dict] = None, face_guider: bool = True,
                 required_plugins: Optional[dict] = None, registry: Any = None):
        super().__init__()
        ucfg = {k: v for k, v in (unet or {}).items() if not k.startswith("_")}
        device = loading.backbone_device()  # meta while a loader brings the weights
        with device if device is not None else nullcontext():
            self.backbone = UNetSpatioTemporalConditionModel(**ucfg)
        cross_dim = self.backbone.config.cross_attention_dim
        if not isinstance(cross_dim, int):
            raise ConfigError("model.unet.cross_attention_dim must be one integer (the identity token width)")
        pcm_cfg = _merge(PCMConfig, pcm, "model.pcm")
        id_cfg = _merge(IdentityConfig, identity, "model.identity")
        if id_cfg["kind"] not in IDENTITY_KINDS:
            raise ConfigError(f"model.identity.kind is {id_cfg['kind']!r}; expected one of {', '.join(IDENTITY_KINDS)}")

        if registry is None:
            from actalker.plugins import load_registry  # local: plugins load only when a model is built

            registry = load_registry()
        resolved, packages = self._build_branches(branches or {}, registry, dict(required_plugins or {}), cond_dim)
        # Saved resolved: a reloaded model keeps its regions/gates even if plugin defaults change.
        self.register_to_config(branches=resolved, required_plugins=packages, pcm=pcm_cfg, identity=id_cfg)

        self.id_proj = IdentityProjection(id_cfg["dim"], cross_dim, id_cfg["kind"])
        ucfg = self.backbone.config
        ref_channels = ucfg.in_channels - ucfg.out_channels
        self.id_encoder = (LatentIdentityEncoder(max(ref_channels, 1), id_cfg["dim"])
                           if id_cfg["kind"] == "learned" else None)
        self.guider = FaceGuider(ucfg.block_out_channels[0]) if face_guider else None
        if self.guider is not None:
            self.backbone.conv_in.register_forward_hook(self._guider_hook)
        self.pcm_layers = nn.ModuleDict()
        if pcm_cfg["enabled"] and resolved:
            self._attach_pcm(pcm_cfg, {n: cond_dim for n in resolved}, cross_dim)

    # ---- construction -------------------------------------------------------------------
    def _build_branches(self, branches: Mapping, registry, required: dict, cond_dim: int):
        self._branches = resolve_branches(branches, registry, required)
        self.encoders = nn.ModuleDict({n: _encoder(b, cond_dim) for n, b in self._branches.items()})
        resolved = {n: b.saved() for n, b in self._branches.items()}
        packages = {b.modality: required.get(b.modality) or _package_of(registry, b.modality)
                    for b in self._branches.values()}
        return resolved, packages

    def _attach_pcm(self, cfg: dict, conds: dict, cross_dim: int) -> None:
        n = len(self.backbone.down_blocks)
        for side, blocks in (("down", self.backbone.down_blocks), ("up", self.backbone.up_blocks)):
            key = f"model.pcm.{side}_levels"
            for level in cfg[f"{side}_levels"]:
                if not isinstance(level, int) or not 0 <= level < len(blocks):
                    raise ConfigError(f"{key} has level {level!r}, but the UNet has {len(blocks)} {side} levels "
                                      f"(0-{len(blocks) - 1})")
                block = blocks[level]
                if not getattr(block, "attentions", None):
                    raise ConfigError(f"{key} has level {level}, a {type(block).__name__} without transformer "
                                      f"blocks; PCM needs a cross-attention level")
                steps = level if side == "down" else n - 1 - level
                for a, tstm in enumerate(block.attentions):
                    for t, spatial in enumerate(tstm.transformer_blocks):
                        name = f"{side}{level}_{a}_{t}"
                        self.pcm_layers[name] = PCMLayer(
                            tstm.inner_dim, conds, scan_mode=cfg["scan_mode"], mask_mode=cfg["mask_mode"],
                            mixer=cfg["mixer"], d_state=cfg["d_state"], d_conv=cfg["d_conv"], expand=cfg["expand"],
                            bidirectional=cfg["bidirectional"], id_token=cfg["id_token"], id_dim=cross_dim,
                            width=cfg["width"], cond_inject=cfg["cond_inject"])
                        spatial.register_forward_hook(partial(self._pcm_hook, name, steps))

    # ---- hooks (read the per-forward context) --------------------------------------------
    @property
    def _ctx(self) -> Optional[PCMContext]:
        """The conditioning of this denoiser's forward running in the current context."""
        return _FORWARDS.get().get(id(self))

    @contextmanager
    def _bound(self, ctx: Optional[PCMContext]):
        token = _FORWARDS.set({**_FORWARDS.get(), id(self): ctx})
        try:
            yield
        finally:
            _FORWARDS.reset(token)

    def _pcm_hook(self, name: str, steps: int, module, args, output):
        ctx = self._ctx
        if ctx is None or not ctx.tokens:
            return None  # called outside forward (or nothing open): the plain block
        bf, length, channels = output.shape
        h, w = _grid(ctx.height, steps), _grid(ctx.width, steps)
        if bf != ctx.batch * ctx.frames or h * w != length:
            raise ShapeError(f"PCM layer {name}: got tokens {tuple(output.shape)}, expected grid {h}x{w}")
        weights = {b: ctx.weights(b, h, w) for b in ctx.tokens}
        x = output.reshape(ctx.batch, ctx.frames, length, channels)
        y = self.pcm_layers[name](x, ctx.tokens, ctx.gates, weights, ctx.identity)
        return y.reshape(bf, length, channels)

    def _guider_hook(self, module, args, output):
        ctx = self._ctx
        if ctx is None or ctx.face_mask is None:
            return None
        mask = ctx.face_mask.reshape(-1, 1, *ctx.face_mask.shape[-2:]).to(output.dtype)
        return output + self.guider(mask, *output.shape[-2:])

    def _set_gradient_checkpointing(self, enable: bool = True,
                                    gradient_checkpointing_func=torch.utils.checkpoint.checkpoint) -> None:
        """Bind the forward's context into every checkpointed call, so recomputation during
        backward (after forward has returned and cleared it) sees the same conditions."""
        if not enable:
            return super()._set_gradient_checkpointing(enable=False)
        inner = gradient_checkpointing_func

        def with_context(module, *args):
            ctx = self._ctx

            def run(*a):
                with self._bound(ctx):
                    return module(*a)

            return inner(run, *args)

        super()._set_gradient_checkpointing(enable=True, gradient_checkpointing_func=with_context)

    # ---- inputs ---------------------------------------------------------------------------
    @property
    def branch_names(self) -> list[str]:
        return list(self.config.branches)

    @property
    def default_gates(self) -> dict[str, float]:
        return {n: float(b["gate"]) for n, b in self.config.branches.items()}

    def _unknown(self, given: Mapping, what: str) -> None:
        extra = sorted(set(given) - set(self.config.branches))
        if extra:
            raise InputError(f"{what} names unknown branch '{extra[0]}' (this model has: "
                             f"{', '.join(self.branch_names) or 'none'})")

    def encode_conditions(self, conditions: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Raw features (B, F, *feature_shape) -> condition tokens (B, F, T, cond_dim) per branch."""
        self._unknown(conditions, "conditions")
        out = {}
        for name, feats in conditions.items():
            branch = self._branches[name]
            spec, shape = branch.spec, branch.feature_shape
            if not torch.is_tensor(feats) or feats.dim() != 2 + len(shape) or tuple(feats.shape[2:]) != shape:
                got = tuple(feats.shape) if torch.is_tensor(feats) else type(feats).__name__
                raise ShapeError(f"conditions['{name}'] has shape {got}; expected (B, F, {', '.join(map(str, shape))})")
            tok = self.encoders[name](feats)
            if tok.dim() != 4 or tok.shape[:2] != feats.shape[:2] or tok.shape[-1] != self.config.cond_dim:
                raise PluginError(f"encoder of modality '{spec.name}' returned {tuple(tok.shape)}; expected "
                                  f"(B, F, T, {self.config.cond_dim})")
            want = self.config.branches[name]["tokens"]
            if want and tok.shape[2] != want:  # resample the token axis to the configured count
                b, f, t, d = tok.shape
                tok = F.adaptive_avg_pool1d(tok.reshape(b * f, t, d).transpose(1, 2), want).transpose(1, 2)
                tok = tok.reshape(b, f, want, d)
            out[name] = tok
        return out

    def identity_token(self, identity: Optional[torch.Tensor], sample: torch.Tensor) -> torch.Tensor:
        """(B, identity.dim) embedding, or None for the learned encoder -> (B, 1, cross_attention_dim)."""
        b = sample.shape[0]
        if identity is None:
            if self.id_encoder is None:
                raise InputError(f"identity is required for identity kind '{self.config.identity['kind']}' "
                                 f"(a (B, {self.config.identity['dim']}) embedding from its encoder)")
            ref = sample[:, 0, self.backbone.config.out_channels:]
            identity = self.id_encoder(ref if ref.shape[1] else sample[:, 0, :1])
        dim = self.config.identity["dim"]
        if identity.shape != (b, dim):
            raise ShapeError(f"identity has shape {tuple(identity.shape)}; expected ({b}, {dim})")
        return self.id_proj(identity.to(sample.dtype))

    def _gates(self, gates: Optional[Mapping], names, b: int, f: int, like: torch.Tensor) -> dict:
        gates = dict(gates or {})
        self._unknown(gates, "gates")
        out = {}
        for name in names:
            g = gates.get(name, self.default_gates[name])
            g = torch.as_tensor(g, dtype=like.dtype, device=like.device)
            if g.dim() == 0:
                g = g.expand(b)
            if g.dim() == 1 and g.shape[0] == b:
                g = g[:, None]
            if g.dim() != 2 or g.shape[0] != b or g.shape[1] not in (1, f):
                raise ShapeError(f"gates['{name}'] has shape {tuple(g.shape)}; expected a float, ({b},) or ({b}, {f})")
            out[name] = g.expand(b, f)
        return out

    # ---- forward --------------------------------------------------------------------------
    def forward(self, sample: torch.Tensor, timestep, added_time_ids: torch.Tensor,
                identity: Optional[torch.Tensor] = None, conditions: Optional[Mapping[str, torch.Tensor]] = None,
                gates: Optional[Mapping] = None, region_masks: Optional[Mapping[str, torch.Tensor]] = None,
                face_mask: Optional[torch.Tensor] = None,
                condition_tokens: Optional[Mapping[str, torch.Tensor]] = None, return_dict: bool = True):
        ucfg = self.backbone.config
        if sample.dim() != 5 or sample.shape[2] != ucfg.in_channels:
            raise ShapeError(f"sample has shape {tuple(sample.shape)}; expected (B, F, {ucfg.in_channels}, h, w)")
        b, f, _, h, w = sample.shape
        if added_time_ids.dim() != 2 or added_time_ids.shape[0] != b:
            raise ShapeError(f"added_time_ids has shape {tuple(added_time_ids.shape)}; expected ({b}, n_ids)")
        id_tok = self.identity_token(identity, sample)

        tokens = self.encode_conditions(conditions or {})
        given = dict(condition_tokens or {})
        self._unknown(given, "condition_tokens")
        for name, tok in given.items():
            if name in tokens:
                raise InputError(f"branch '{name}' is given both as conditions and as condition_tokens")
            if tok.dim() != 4 or tok.shape[:2] != (b, f):
                raise ShapeError(f"condition_tokens['{name}'] has shape {tuple(tok.shape)}; expected ({b}, {f}, T, D)")
            tokens[name] = tok
        all_gates = self._gates(gates, list(tokens), b, f, sample)
        open_gates = {n: g for n, g in all_gates.items() if bool((g != 0).any())}
        mode = self.config.pcm["mask_mode"]
        masks = {}
        if len(self.pcm_layers) and open_gates and mode != "none":
            br = self.config.branches
            masks = resolve_branch_masks(all_gates, {n: br[n]["region"] for n in br},
                                         {n: br[n]["solo_region"] for n in br}, region_masks, b, f)
        fm = None
        if face_mask is not None and self.guider is not None:
            fm = as_frames(face_mask, b, f, "face_mask").to(sample.dtype)
        ctx = PCMContext(b, f, h, w, tokens={n: tokens[n] for n in open_gates}, gates=open_gates, masks=masks,
                         identity=id_tok[:, 0], face_mask=fm, mask_mode=mode)

        with self._bound(ctx):
            out = self.backbone(sample, timestep, id_tok, added_time_ids, return_dict=False)[0]
        if not return_dict:
            return (out,)
        return UNetSpatioTemporalConditionOutput(sample=out)

    # ---- loading --------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, registry=None, torch_dtype: Optional[torch.dtype] = None,
                        variant: Optional[str] = None, subfolder: Optional[str] = None,
                        resolve_branches=None, output_loading_info: bool = False):
        """A saved denoiser (``save_pretrained``); the backbone is never built random first
        (``core.denoiser_loading``). ``resolve_branches``: branches dict -> branches dict,
        applied to the saved config before building (the model folder makes its relative
        asset paths absolute that way). Tensors the file lacks (outside the backbone, whose
        every tensor is required) or holds extra: one line naming their groups, or with
        ``output_loading_info`` returned as ``(model, info)`` for the caller to judge."""
        from actalker.core.model_folder import check_loaded_tensors

        folder = Path(pretrained_model_name_or_path).expanduser()
        folder = folder / subfolder if subfolder else folder
        config = loading.read_config(folder)
        weights = loading.weights_file(folder, variant)
        kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
        if resolve_branches is not None:
            kwargs["branches"] = resolve_branches(kwargs.get("branches") or {})
        with loading.empty_backbone():
            den = cls(**kwargs, registry=registry)
        info = loading.load_weights(den, weights)
        den = _cast(den, torch_dtype).eval()
        if output_loading_info:
            return den, info
        check_loaded_tensors(info, f"denoiser {folder}")
        return den

    @classmethod
    def from_svd(cls, svd_path, branches: Optional[dict] = None, pcm: Optional[dict] = None, cond_dim: int = 64,
                 identity: Optional[dict] = None, face_guider: bool = True, registry=None,
                 subfolder: Optional[str] = "unet", torch_dtype: Optional[torch.dtype] = None,
                 variant: Optional[str] = None) -> "ACTalkerDenoiser":
        """A fresh denoiser whose UNet weights come from a local diffusers SVD folder
        (``variant``: e.g. "fp16" for ``diffusion_pytorch_model.fp16.safetensors``)."""
        udir = Path(svd_path) / subfolder if subfolder else Path(svd_path)
        if not (udir / "config.json").is_file():
            raise InputError(f"no diffusers UNet in '{udir}' (expected config.json and its weights)")
        ucfg = dict(UNetSpatioTemporalConditionModel.load_config(udir))
        with loading.empty_backbone():
            den = cls(unet=ucfg, pcm=pcm, branches=branches, cond_dim=cond_dim, identity=identity,
                      face_guider=face_guider, registry=registry)
        loading.assign_backbone(den, loading.load_svd_unet_state(udir, variant, torch_dtype), str(udir))
        return _cast(den, torch_dtype)

    @classmethod
    def from_model_config(cls, model_cfg, registry=None) -> "ACTalkerDenoiser":
        """Build from the ``model`` section (actalker.core.schema.ModelConfig or its dict)."""
        m = model_cfg.model_dump() if hasattr(model_cfg, "model_dump") else dict(model_cfg)
        unet = m.get("unet") or {}
        common = dict(pcm=m.get("pcm"), branches=m.get("branches"), cond_dim=m.get("cond_dim", 64),
                      identity=m.get("identity"), face_guider=m.get("face_guider", True), registry=registry)
        if unet.get("pretrained_path"):
            if unet.get("config"):
                raise ConfigError("model.unet: give either pretrained_path or config, not both")
            return cls.from_svd(unet["pretrained_path"], subfolder=unet.get("subfolder"), variant=unet.get("variant"),
                                **common)
        return cls(unet=unet.get("config") or {}, **common)

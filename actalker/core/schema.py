"""The configuration schema (phase one of validation).

Configs are YAML composed by omegaconf (`actalker/config.py`), then validated here with
``extra="forbid"`` everywhere so a typo is an error, never a silently ignored key. Branch
options are plain dicts at this phase; each branch's plugin validates them (phase two)
once plugins are loaded. No signal is named here: branches are whatever the config lists.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from actalker.errors import ConfigError
from actalker.plugins.validation import describe_error

# The schema owns every enum; code that checks a value derives its tuple from these.
ScanMode = Literal["spatial", "spatiotemporal"]
MaskMode = Literal["drop", "soft", "none"]
Mixer = Literal["mamba", "attention"]
CondInject = Literal["sequence", "every_token"]
IdentityKind = Literal["learned", "clip", "arcface"]
SCAN_MODES: tuple[str, ...] = get_args(ScanMode)
MASK_MODES: tuple[str, ...] = get_args(MaskMode)
MIXERS: tuple[str, ...] = get_args(Mixer)
COND_INJECTS: tuple[str, ...] = get_args(CondInject)
IDENTITY_KINDS: tuple[str, ...] = get_args(IdentityKind)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BranchConfig(Strict):
    modality: Optional[str] = Field(None, description="Modality (plugin) name; default: the branch name.")
    gate: Optional[float] = Field(None, ge=0.0, description="Default gate; null = the plugin's default_gate.")
    region: Optional[str] = Field(None, description="Region steered with other branches on; null = plugin default.")
    solo_region: Optional[str] = Field(None, description="Region steered when this is the only open branch.")
    tokens: Optional[int] = Field(None, ge=1, description="Condition tokens per frame; null = the encoder's own.")
    options: dict[str, Any] = Field(default_factory=dict, description="Plugin options, checked by the plugin.")


class PCMConfig(Strict):
    enabled: bool = Field(True, description="False = the plain backbone (ablation: no PCM).")
    down_levels: list[int] = Field(default_factory=lambda: [0, 1, 2], description="UNet down levels with PCM.")
    up_levels: list[int] = Field(default_factory=lambda: [1, 2, 3], description="UNet up levels with PCM.")
    scan_mode: ScanMode = Field(
        "spatiotemporal", description="One sequence per frame, or one over frames x height x width."
    )
    mask_mode: MaskMode = Field(
        "drop", description="drop: tokens outside a branch's region leave its scan; soft: multiply; none: ignore."
    )
    mixer: Mixer = Field("mamba", description="Sequence mixer inside each branch.")
    d_state: int = Field(16, ge=1, description="SSM state size N.")
    expand: int = Field(1, ge=1, description="Mamba inner expansion.")
    d_conv: int = Field(4, ge=0, description="Causal depthwise conv width; 0 disables it.")
    bidirectional: bool = Field(True, description="Scan forward and reversed, each with its own parameters.")
    id_token: bool = Field(True, description="Append the identity token to every branch sequence.")
    width: Optional[int] = Field(None, ge=1, description="Branch width; null = the layer's channels.")
    cond_inject: CondInject = Field(
        "every_token", description="sequence: condition tokens only appended to the scan (the paper; the scan "
        "carries them a few tokens); every_token: also added to each region token, so the whole region sees them."
    )


class IdentityConfig(Strict):
    kind: IdentityKind = Field(
        "learned", description="learned: small CNN trained with the model; clip: SVD's image encoder; arcface: user model."
    )
    dim: int = Field(512, ge=1, description="Identity embedding size before projection.")
    weights_path: Optional[str] = Field(None, description="Local weights for clip/arcface identity encoders.")


class PretrainedRef(Strict):
    pretrained_path: Optional[str] = Field(None, description="Local diffusers folder (e.g. SVD img2vid-xt).")
    subfolder: Optional[str] = Field(None, description="Subfolder inside pretrained_path.")
    variant: Optional[str] = Field(None, description="Weights variant of pretrained_path, e.g. fp16 "
                                   "(diffusion_pytorch_model.fp16.safetensors).")
    config: dict[str, Any] = Field(default_factory=dict, description="Constructor kwargs for a fresh model.")


class ModelConfig(Strict):
    unet: PretrainedRef = Field(default_factory=lambda: PretrainedRef(subfolder="unet"))
    vae: PretrainedRef = Field(default_factory=lambda: PretrainedRef(subfolder="vae"))
    pcm: PCMConfig = Field(default_factory=PCMConfig)
    branches: dict[str, BranchConfig] = Field(default_factory=dict, description="The control branches, by name.")
    cond_dim: int = Field(64, ge=1, description="Width of condition tokens leaving each branch encoder.")
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    face_guider: bool = Field(True, description="Add the face-region guider after conv_in.")
    init_from: Optional[str] = Field(None, description="Training starts from this saved actalker model folder's weights (see init_include).")
    init_include: list[str] = Field(default_factory=lambda: ["backbone."],
                                    description="Weight-name prefixes init_from copies; the rest start fresh.")

    @field_validator("branches")
    @classmethod
    def _branch_names(cls, branches: dict[str, BranchConfig]) -> dict[str, BranchConfig]:
        for name in branches:
            if not name.isidentifier():
                raise ValueError(f"branch name '{name}' must be a Python identifier (letters, digits, _)")
        return branches


class SamplingConfig(Strict):
    steps: int = Field(25, ge=1, description="Denoising steps.")
    fps: float = Field(12.5, gt=0, description="Output frame rate.")
    num_frames: Optional[int] = Field(None, ge=1, description="Frames to generate; null = length of the signals.")
    window: int = Field(25, ge=1, description="Frames per denoising window.")
    window_shift: int = Field(7, ge=0, description="Window origin shift per step (wraps around).")
    decode_chunk: int = Field(8, ge=1, description="Frames kept per VAE decode call.")
    decode_overlap: int = Field(2, ge=0, description="Context frames decoded and dropped on each side of a chunk (no flicker at chunk edges).")
    noise_aug_strength: float = Field(0.02, ge=0, description="Noise added to the reference latent.")
    motion_bucket_id: int = Field(127, ge=0, description="SVD's motion conditioning value.")
    height: int = Field(512, ge=8, description="Output height (multiple of 8).")
    width: int = Field(512, ge=8, description="Output width (multiple of 8).")
    sigma_min: Optional[float] = Field(None, description="Override the scheduler's minimum sigma.")
    sigma_max: Optional[float] = Field(None, description="Override the scheduler's maximum sigma.")


class GuidanceConfig(Strict):
    reference_scale: float = Field(2.0, description="Scale of (reference - unconditional).")
    reference_scale_min: Optional[float] = Field(
        None, description="Set: the reference scale ramps over the video's frames from this value (first frame) to "
        "reference_scale (last), SVD's min_guidance_scale..max_guidance_scale; null: reference_scale on every frame.")
    order: list[str] = Field(default_factory=list, description="Branch order of the chained guidance; branches left out follow in config order (written back in full).")
    scales: dict[str, float] = Field(default_factory=dict, description="Scale per branch stage; a branch left out gets 1.0 (written back in full).")
    outside_scale: Optional[float] = Field(
        None, ge=0, description="Set: a branch's scale applies inside its own region (its `region`, also when it is "
        "alone and the solo rule lets it steer its solo region) and its stage gets this scale elsewhere (1 = the "
        "conditional prediction, not amplified), so guidance does not push a signal into other regions; null: each "
        "scale applies everywhere (the paper).")


class DataConfig(Strict):
    root: Optional[str] = Field(None, description="Clip folder (actalker synth / preprocess output).")
    num_frames: int = Field(14, ge=1, description="Frames per training window.")
    size: int = Field(64, ge=8, description="Square frame size in pixels.")
    fps: float = Field(12.5, gt=0, description="Training frame rate.")
    num_workers: int = Field(0, ge=0, description="DataLoader workers.")
    require_audio: bool = Field(False, description="Skip clips without audio.")
    reference: Literal["first", "random"] = Field(
        "first", description="Reference frame: the window's first, or one drawn from the whole clip (long-video generation).")
    train_split: str = Field("train", description="Split that `actalker train` trains on.")
    val_split: str = Field("val", description="Split the validation videos are drawn from.")


class TrainConfig(Strict):
    output_dir: str = Field("runs/default", description="Checkpoints, logs and the resolved config.")
    max_steps: int = Field(1000, ge=1)
    batch_size: int = Field(1, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    warmup_steps: int = Field(0, ge=0)
    grad_clip: float = Field(1.0, ge=0)
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    gradient_checkpointing: bool = False
    cache_latents: bool = Field(False, description="Keep the frozen VAE's posterior of each training frame after its "
                                "first encoding (same run, fewer encoder passes; memory grows with the distinct frames seen).")
    trainable: Literal["pcm", "pcm+temporal", "all"] = Field("all", description="What trains besides new modules.")
    ema_decay: Optional[float] = Field(None, ge=0, le=1, description="EMA of weights; null = off.")
    condition_dropout: float = Field(0.1, ge=0, le=1, description="Per-branch probability of the null condition.")
    reference_dropout: float = Field(0.05, ge=0, le=1, description="Probability of dropping the reference.")
    gate_dropout: float = Field(0.25, ge=0, le=1, description="Per-branch probability its gate is closed.")
    reference_blur: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Region -> per-sample probability that the reference frame is blurred inside that region, so "
        "the model must take the region from its branch's signal instead of copying the reference (e.g. {eyes: 0.5}).")
    noise_offset: float = Field(0.05, ge=0)
    region_loss_weight: float = Field(0.0, ge=0, description="Extra loss weight inside the branches' regions (1 + w there).")
    part_loss_weight: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Region -> extra loss weight inside that region, on top of region_loss_weight (e.g. {eyes: 8}: a part "
        "that covers a few latent pixels of a branch's region).")
    p_mean: float = Field(0.7, description="Log-normal sigma sampling mean (SVD: 0.7).")
    p_std: float = Field(1.6, gt=0, description="Log-normal sigma sampling std (SVD: 1.6).")
    noise_aug_mean: float = Field(-3.0, description="Log-normal mean of the reference frame's noise augmentation.")
    noise_aug_std: float = Field(0.5, ge=0, description="Log-normal std of the reference noise augmentation (0 = fixed).")
    check_data: bool = Field(True, description="Before step 1, make every branch's features from every training clip (missing per-clip data fails now).")
    checkpoint_every: int = Field(100, ge=1)
    validate_every: int = Field(0, ge=0, description="0 = no validation videos.")
    keep_checkpoints: int = Field(3, ge=0, description="Newest checkpoints kept; 0 = keep all.")
    log_every: int = Field(10, ge=1)
    tensorboard: bool = Field(True, description="Also log scalars to output_dir/tensorboard.")
    seed: Optional[int] = None


class Config(Strict):
    model: ModelConfig = Field(default_factory=ModelConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    guidance: GuidanceConfig = Field(default_factory=GuidanceConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    seed: int = Field(0, description="Global seed.")

    @model_validator(mode="after")
    def _explicit_guidance(self) -> "Config":
        """Every branch in guidance.order and with a scale, however the config was built."""
        from actalker.core.guidance_order import complete_guidance  # local: avoids an import cycle

        g = self.guidance
        g.order, g.scales = complete_guidance(self.model.branches, g.order, g.scales)
        return self


# Model folders saved before the unused `eval` section was removed still carry it.
LEGACY_SECTIONS = ("eval",)


def schema_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Field -> default of a schema section: the one place defaults are declared."""
    return model().model_dump()


def validate_config(raw: dict[str, Any]) -> Config:
    """Phase 1: the core schema (branch options stay plain dicts); one-line errors naming the
    full dotted key and the closest valid one."""
    raw = {k: v for k, v in dict(raw).items() if k not in LEGACY_SECTIONS}
    try:
        cfg = Config.model_validate(raw)
    except Exception as err:
        if hasattr(err, "errors"):
            raise ConfigError(f"config: {describe_error(Config, err)}") from err
        raise
    return cfg

"""The accelerate config files in configs/accelerate load with accelerate's own loader and
use only options `accelerate launch` knows (a typo would otherwise be silently ignored)."""
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import launch_command_parser

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
EXPECTED = {"cpu_2proc": "MULTI_GPU", "deepspeed_zero2": "DEEPSPEED", "fsdp": "FSDP"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_config_loads(name):
    cfg = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert str(cfg.distributed_type).endswith(EXPECTED[name])
    assert cfg.num_processes >= 2
    known = {s.lstrip("-") for a in launch_command_parser()._actions for s in a.option_strings}
    for key in list(cfg.deepspeed_config) + list(cfg.fsdp_config):
        assert key in known, f"{name}.yaml: '{key}' is not an accelerate launch option"
    if name == "deepspeed_zero2":
        assert cfg.deepspeed_config["zero_stage"] == 2
        # "auto": train.grad_accum and train.grad_clip of the actalker config apply
        assert cfg.deepspeed_config["gradient_accumulation_steps"] == "auto"
    if name == "fsdp":
        assert cfg.fsdp_config["fsdp_use_orig_params"] is True  # needed with frozen parameters


def test_fsdp_config_reaches_the_launch_environment():
    from accelerate.commands.launch import _validate_launch_command
    from accelerate.utils.launch import prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / "fsdp.yaml"), "train.py"])
    args, _, _ = _validate_launch_command(args)
    env = prepare_multi_gpu_env(args)
    assert env["ACCELERATE_USE_FSDP"] == "true"
    assert env["FSDP_SHARDING_STRATEGY"] == "SHARD_GRAD_OP"
    assert env["FSDP_USE_ORIG_PARAMS"] == "true"

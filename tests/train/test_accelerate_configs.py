"""The accelerate config files in configs/accelerate load with accelerate's own loader and
use only options `accelerate launch` knows (a typo would otherwise be silently ignored)."""
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import launch_command_parser

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
EXPECTED = {"cpu_2proc": "MULTI_GPU", "deepspeed_zero2": "DEEPSPEED", "fsdp": "FSDP",
            "deepspeed_zero2_2nodes": "DEEPSPEED", "fsdp_2nodes": "FSDP"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_config_loads(name):
    cfg = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert str(cfg.distributed_type).endswith(EXPECTED[name])
    assert cfg.num_processes >= 2
    known = {s.lstrip("-") for a in launch_command_parser()._actions for s in a.option_strings}
    for key in list(cfg.deepspeed_config) + list(cfg.fsdp_config):
        assert key in known, f"{name}.yaml: '{key}' is not an accelerate launch option"
    if name.startswith("deepspeed_zero2"):
        assert cfg.deepspeed_config["zero_stage"] == 2
        # "auto": train.grad_accum and train.grad_clip of the actalker config apply
        assert cfg.deepspeed_config["gradient_accumulation_steps"] == "auto"
    if name.startswith("fsdp"):
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


@pytest.mark.parametrize("name", ["deepspeed_zero2_2nodes", "fsdp_2nodes"])
def test_multinode_config_takes_the_node_rank_and_address_from_the_command_line(name):
    """What docs/cluster.md's srun line passes on the second node."""
    from accelerate.commands.launch import _validate_launch_command

    argv = ["--config_file", str(CONFIGS / f"{name}.yaml"), "--machine_rank", "1", "--main_process_ip", "10.0.0.7",
            "train.py"]
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(argv))
    assert (args.num_machines, args.num_processes, args.machine_rank) == (2, 16, 1)
    assert (args.main_process_ip, args.main_process_port) == ("10.0.0.7", 29500)
    if name.startswith("deepspeed"):
        assert args.deepspeed_multinode_launcher == "standard"  # torchrun per node, as srun starts them

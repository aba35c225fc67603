#!/usr/bin/env bash
# Train the embedded demo model from scratch on the synthetic world (configs/demo.yaml) and
# install it as actalker/assets/demo_model. One command: `make demo-model` (or this script).
#   scripts/train_demo.sh [RUN_DIR]        (default runs/demo; extra config overrides in $OVERRIDES)
# Stages (45.6 min measured for the shipped v5 model on a quiet 2-core CPU on 2026-12-02, 75-80 min
# for the recipe on the slower machine of 2026-12-01; the goal is 60: docs/results.md):
#   1. synthetic data: 300 clips of 50 frames at 64 px, world seed 0 (~20 s; scripts/demo_world.sh)
#   2. VAE stage: AutoencoderKLTemporalDecoder (SVD's VAE class) from scratch, 1000 steps on
#      2-frame windows (8-11 min); sets the latent scaling factor. The demo config decodes
#      2 frames per call, as this stage trains.
#   3. denoiser stage (`actalker train --config demo`, VAE frozen), 3000 steps in PROCS processes
#   4. fp16 export (<= 20 MB) to actalker/assets/demo_model (EXPORT=0 skips it, e.g. for the
#      mask_mode=none comparison, which reuses stages 1-2 of a finished run:
#      DATA=runs/demo/synth VAE=runs/demo/vae_stage OVERRIDES="model.pcm.mask_mode=none" \
#        EXPORT=0 scripts/train_demo.sh runs/demo_nomask)
set -euo pipefail
RUN=${1:-runs/demo}
ACT=${ACTALKER:-actalker}
PY=${PYTHON:-python}
DATA=${DATA:-$RUN/synth}
VAE=${VAE:-$RUN/vae_stage}
VAE_STEPS=${VAE_STEPS:-1000}
# The VAE stage stops at VAE_MINUTES even if its steps are not done (it says so): the budget
# guard of `make demo-model`. On a slow machine raise it to get all VAE_STEPS.
VAE_MINUTES=${VAE_MINUTES:-12}
OVERRIDES=${OVERRIDES:-}
# The denoiser trains in PROCS data-parallel processes of one torch thread each (DDP over
# gloo, configs/accelerate/cpu_2proc.yaml): on 2 cores that is 1.26x one process with two
# threads. The global batch stays 4 (2 per process). PROCS=1 trains in one process.
PROCS=${PROCS:-2}
mkdir -p "$RUN"
start=$(date +%s)
# shellcheck source=scripts/demo_world.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo_world.sh"
demo_training_world "$DATA"
if [ ! -f "$VAE/vae/config.json" ]; then
  "$ACT" train-vae --config demo data.root="$DATA" --out "$VAE" --steps "$VAE_STEPS" --minutes "$VAE_MINUTES" \
    --lr 2e-3 --frames 2 --batch-size 8 --no-progress
fi
echo "[train_demo] VAE stage done at $(( $(date +%s) - start )) s"
resume=
if ls "$RUN/denoiser/checkpoints" >/dev/null 2>&1; then resume=--resume; fi
if [ $(( 4 % PROCS )) -ne 0 ]; then
  echo "train_demo.sh: PROCS=$PROCS must divide the global batch of 4 (1, 2 or 4)" >&2; exit 2
fi
if [ "$PROCS" -gt 1 ]; then
  launch=("$PY" -m accelerate.commands.launch --multi_gpu --num_processes "$PROCS" --num_machines 1 -m actalker.cli)
  per_process="train.batch_size=$(( 4 / PROCS ))"
  export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
else
  launch=("$ACT"); per_process=
fi
# shellcheck disable=SC2086
"${launch[@]}" train --config demo data.root="$DATA" train.output_dir="$RUN/denoiser" \
  model.vae.pretrained_path="$VAE" model.vae.subfolder=vae $per_process $OVERRIDES --no-progress $resume
echo "[train_demo] denoiser stage done at $(( $(date +%s) - start )) s"
if [ "${EXPORT:-1}" = 1 ]; then
  "$PY" -m actalker.demo.model "$RUN/denoiser/model" --note "scripts/train_demo.sh (make demo-model): \
actalker synth $DEMO_TRAINING_WORLD, its train split; VAE stage $VAE_STEPS steps; \
denoiser: configs/demo.yaml${OVERRIDES:+ with $OVERRIDES}"
fi
echo "[train_demo] total $(( $(date +%s) - start )) s"

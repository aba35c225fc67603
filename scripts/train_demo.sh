#!/usr/bin/env bash
# Train the embedded demo model from scratch on the synthetic world (configs/demo.yaml) and
# install it as actalker/assets/demo_model. One command: `make demo-model` (or this script).
#   scripts/train_demo.sh [RUN_DIR]        (default runs/demo; extra config overrides in $OVERRIDES)
# Stages (about 45 min on a quiet 2-core CPU, see docs/results.md):
#   1. synthetic data: 300 clips of 50 frames at 64 px, world seed 0 (~20 s)
#   2. VAE stage: AutoencoderKLTemporalDecoder (SVD's VAE class) from scratch, 1000 steps on
#      2-frame windows (~8 min); sets the latent scaling factor. The demo config decodes
#      2 frames per call, as this stage trains.
#   3. denoiser stage (`actalker train --config demo`, VAE frozen), 3000 steps
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
OVERRIDES=${OVERRIDES:-}
mkdir -p "$RUN"
start=$(date +%s)
if [ ! -f "$DATA/manifest.json" ]; then
  "$ACT" synth --out "$DATA" --clips 300 --frames 50 --size 64 --fps 25 --seed 0
fi
if [ ! -f "$VAE/vae/config.json" ]; then
  "$ACT" train-vae --config demo data.root="$DATA" --out "$VAE" --steps "$VAE_STEPS" --minutes 12 \
    --lr 2e-3 --frames 2 --batch-size 8 --no-progress
fi
echo "[train_demo] VAE stage done at $(( $(date +%s) - start )) s"
resume=
if ls "$RUN/denoiser/checkpoints" >/dev/null 2>&1; then resume=--resume; fi
# shellcheck disable=SC2086
"$ACT" train --config demo data.root="$DATA" train.output_dir="$RUN/denoiser" \
  model.vae.pretrained_path="$VAE" model.vae.subfolder=vae $OVERRIDES --no-progress $resume
echo "[train_demo] denoiser stage done at $(( $(date +%s) - start )) s"
if [ "${EXPORT:-1}" = 1 ]; then
  "$PY" -m actalker.demo.model "$RUN/denoiser/model"
fi
echo "[train_demo] total $(( $(date +%s) - start )) s"

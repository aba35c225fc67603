#!/usr/bin/env bash
# Train the embedded demo model from scratch on the synthetic world (configs/demo.yaml) and
# install it as actalker/assets/demo_model. One command: `make demo-model` (or this script).
#   scripts/train_demo.sh [RUN_DIR]        (default runs/demo; extra config overrides in $OVERRIDES)
# Stages: synthetic data -> VAE stage (AutoencoderKLTemporalDecoder from scratch) -> denoiser
# stage with the VAE frozen (`actalker train --config demo`) -> fp16 export (<= 20 MB).
# Set EXPORT=0 to keep the model in RUN_DIR only (e.g. for the mask_mode=none ablation).
set -euo pipefail
RUN=${1:-runs/demo}
ACT=${ACTALKER:-actalker}
PY=${PYTHON:-python}
DATA=${DATA:-$RUN/synth}
VAE_STEPS=${VAE_STEPS:-700}
VAE_MINUTES=${VAE_MINUTES:-8}
OVERRIDES=${OVERRIDES:-}
mkdir -p "$RUN"
start=$(date +%s)
if [ ! -f "$DATA/manifest.json" ]; then
  "$ACT" synth --out "$DATA" --clips 300 --frames 50 --size 64 --fps 25 --seed 0
fi
if [ ! -f "${VAE_DIR:-$RUN/vae_stage}/vae/config.json" ]; then
  "$ACT" train-vae --config demo data.root="$DATA" --out "$RUN/vae_stage" --steps "$VAE_STEPS" --minutes "$VAE_MINUTES" --lr 2e-3 --frames 2 --batch-size 8 --no-progress
fi
VAE_DIR=${VAE_DIR:-$RUN/vae_stage}
echo "[train_demo] VAE stage done at $(( $(date +%s) - start )) s"
# shellcheck disable=SC2086
"$ACT" train --config demo data.root="$DATA" train.output_dir="$RUN/denoiser" \
  model.vae.pretrained_path="$VAE_DIR" model.vae.subfolder=vae $OVERRIDES --no-progress
echo "[train_demo] denoiser stage done at $(( $(date +%s) - start )) s"
if [ "${EXPORT:-1}" = 1 ]; then
  "$PY" -m actalker.demo.model "$RUN/denoiser/model"
fi
echo "[train_demo] total $(( $(date +%s) - start )) s"

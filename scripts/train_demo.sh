#!/usr/bin/env bash
# Train the embedded demo model from scratch on the synthetic world (configs/demo.yaml) and
# install it as actalker/assets/demo_model. One command: `make demo-model` (or this script).
#   scripts/train_demo.sh [RUN_DIR]        (default runs/demo; extra config overrides in $OVERRIDES)
# Stages (about 40 min on a 2-core CPU, see docs/results.md):
#   1. synthetic data: 300 clips of 50 frames at 64 px, world seed 0 (~20 s)
#   2. VAE stage: AutoencoderKLTemporalDecoder (SVD's VAE class) from scratch, 700 steps on
#      2-frame windows (~6 min); sets the latent scaling factor
#   3. denoiser stage (`actalker train --config demo`, VAE frozen), and beside it, on one
#      thread, a decoder-only VAE fine-tune on 8-frame windows (the pipeline decodes 8 frames
#      at a time; the encoder, hence the latents the denoiser learns, stays fixed)
#   4. the fine-tuned decoder goes into the model folder; fp16 export (<= 20 MB) to
#      actalker/assets/demo_model (EXPORT=0 skips it, e.g. for the mask_mode=none ablation:
#      OVERRIDES="model.pcm.mask_mode=none" EXPORT=0 scripts/train_demo.sh runs/demo_nomask)
set -euo pipefail
RUN=${1:-runs/demo}
ACT=${ACTALKER:-actalker}
PY=${PYTHON:-python}
DATA=${DATA:-$RUN/synth}
VAE_STEPS=${VAE_STEPS:-700}
DEC_MINUTES=${DEC_MINUTES:-22}
OVERRIDES=${OVERRIDES:-}
mkdir -p "$RUN"
start=$(date +%s)
if [ ! -f "$DATA/manifest.json" ]; then
  "$ACT" synth --out "$DATA" --clips 300 --frames 50 --size 64 --fps 25 --seed 0
fi
if [ ! -f "$RUN/vae_stage/vae/config.json" ]; then
  "$ACT" train-vae --config demo data.root="$DATA" --out "$RUN/vae_stage" --steps "$VAE_STEPS" --minutes 10 \
    --lr 2e-3 --frames 2 --batch-size 8 --no-progress
fi
echo "[train_demo] VAE stage done at $(( $(date +%s) - start )) s"
dec_pid=
if [ ! -f "$RUN/vae_dec/vae/config.json" ]; then
  nice -n 5 "$ACT" train-vae --config demo data.root="$DATA" --out "$RUN/vae_dec" --init "$RUN/vae_stage/vae" \
    --decoder-only --frames 8 --batch-size 2 --lr 1e-3 --steps 3000 --minutes "$DEC_MINUTES" --threads 1 \
    --no-progress > "$RUN/vae_dec.log" 2>&1 &
  dec_pid=$!
fi
resume=
if ls "$RUN/denoiser/checkpoints" >/dev/null 2>&1; then resume=--resume; fi
# shellcheck disable=SC2086
"$ACT" train --config demo data.root="$DATA" train.output_dir="$RUN/denoiser" \
  model.vae.pretrained_path="$RUN/vae_stage" model.vae.subfolder=vae $OVERRIDES --no-progress $resume
echo "[train_demo] denoiser stage done at $(( $(date +%s) - start )) s"
if [ -n "$dec_pid" ]; then wait "$dec_pid"; fi
cp "$RUN/vae_dec/vae/config.json" "$RUN/vae_dec/vae/diffusion_pytorch_model.safetensors" "$RUN/denoiser/model/vae/"
echo "[train_demo] decoder fine-tune installed in $RUN/denoiser/model at $(( $(date +%s) - start )) s"
if [ "${EXPORT:-1}" = 1 ]; then
  "$PY" -m actalker.demo.model "$RUN/denoiser/model"
fi
echo "[train_demo] total $(( $(date +%s) - start )) s"

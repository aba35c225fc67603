# The synthetic worlds of the demo recipe, defined once for the scripts that need them
# (sourced by train_demo.sh and paper_ablation.sh; $ACT is the actalker command). Each
# function makes its world in DIR unless DIR already holds one.
# The training world's synth options (also quoted in the exported demo model's record).
DEMO_TRAINING_WORLD="--clips 300 --frames 50 --size 64 --fps 25 --seed 0"
demo_training_world() {  # DIR: 300 clips of 50 frames at 64 px, world seed 0 (232 train identities)
  # shellcheck disable=SC2086
  [ -f "$1/manifest.json" ] || "$ACT" synth --out "$1" $DEMO_TRAINING_WORLD
}
heldout_world() {  # DIR: 24 clips of 100 frames, world seed 1000 (identities and signals training never saw)
  [ -f "$1/manifest.json" ] || "$ACT" synth --out "$1" --clips 24 --frames 100 --size 64 --fps 25 --seed 1000
}

#!/usr/bin/env bash
# Mutation testing over the core's numeric path and the config validation (docs/testing.md).
# Runs one module at a time so a partial run still leaves per-module results (mutants/*.meta),
# then prints the per-module score with the equivalent mutants of tests/mutation_equivalent.txt
# taken out. Usage: scripts/mutation.sh [MODULE_GLOB ...]   (default: every module below)
# Env: MUTMUT (the mutmut binary), PYTHON, JOBS (parallel mutants; default 1), FRESH=1 (forget earlier results).
set -euo pipefail
MUTMUT=${MUTMUT:-.venv/bin/mutmut}
PYTHON=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-1}
DEFAULT_BATCHES=(
  "actalker.core.scan.*"
  "actalker.core.mamba.*"
  "actalker.core.pcm.*"
  "actalker.core.guidance.*"
  "actalker.core.windows.*"
  "actalker.core.schema.*"
  "actalker.config.*"
  "actalker.plugins.validation.*"
  "actalker.core.pipeline.*"
)
if [ "$#" -gt 0 ]; then BATCHES=("$@"); else BATCHES=("${DEFAULT_BATCHES[@]}"); fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# mutmut re-traces only new or changed tests, so an unchanged test that now reaches new or
# changed code is not mapped to it and that code's mutants "survive" untested: start every
# invocation from a fresh trace (a few minutes) rather than trust an old one.
rm -f mutants/mutmut-stats.json
# mutmut keeps a mutant's result while its function is unchanged, even if the tests changed:
# FRESH=1 forgets every earlier result (after tests were added) at the price of a full run.
if [ "${FRESH:-0}" = 1 ]; then rm -rf mutants; fi
for batch in "${BATCHES[@]}"; do
  echo "== mutation batch: $batch ($(date +%H:%M:%S))"
  "$MUTMUT" run --max-children "$JOBS" "$batch"
done
"$PYTHON" scripts/mutation_score.py

# Two commands set up and run everything on a fresh machine:
#   make demo   -- create .venv if missing, install, run the main job on the embedded default
#   make test   -- create .venv if missing, install, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Extra pip arguments, e.g. TORCH_INDEX="--extra-index-url https://download.pytorch.org/whl/cpu"
TORCH_INDEX ?=
CONTRIB := plugins_contrib/actalker-eeg plugins_contrib/actalker-headpose plugins_contrib/actalker-blink plugins_contrib/actalker-text
STAMP := $(VENV)/.installed

.PHONY: demo demo-model test test-slow bench install clean-venv mutation

$(STAMP): pyproject.toml constraints-cpu.txt $(foreach p,$(CONTRIB),$(p)/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# espeak-ng gives the synthetic world real speech; without it synth falls back to a
	@# syllable-rate signal, so this is best effort (only as root with apt).
	@command -v espeak-ng >/dev/null || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq espeak-ng) >/dev/null 2>&1; } || \
	  echo "note: espeak-ng not installed; synthetic speech uses a syllable-rate signal"
	@# Debian's headless Chromium drives the app's browser test (tests/app/test_browser.py);
	@# best effort like espeak-ng: without it that test is skipped with the reason.
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1; } || \
	  echo "note: chromium not installed; the app's browser test will be skipped"
	$(PIP) install -q --upgrade "pip>=24" $(TORCH_INDEX)
	$(PIP) install -q -c constraints-cpu.txt $(TORCH_INDEX) -e ".[dev]" $(foreach p,$(CONTRIB),-e $(p))
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/actalker demo $(ARGS)

# Train the embedded demo model from scratch (configs/demo.yaml) and install it as
# actalker/assets/demo_model. ARGS: the run folder (default runs/demo). On 2 CPU cores about
# 75-80 min (denoiser: 3000 steps in two DDP processes at 1.3-1.4 s/step): over the 60-minute
# goal; docs/results.md has the measured steps-against-control trade-off.
demo-model: $(STAMP)
	ACTALKER=$(VENV)/bin/actalker PYTHON=$(PY) scripts/train_demo.sh $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(ARGS)

bench: $(STAMP)
	$(PY) -m pytest benchmarks -m benchmark --benchmark-only --benchmark-columns=min,mean,max,rounds $(ARGS)

clean-venv:
	rm -rf $(VENV)

# Mutation testing of the core's numeric path and the config validation (docs/testing.md);
# not part of `make test`. ARGS: module globs to run, e.g. ARGS='actalker.core.windows.*'.
mutation: $(STAMP)
	OMP_NUM_THREADS=1 MUTMUT=$(VENV)/bin/mutmut PYTHON=$(PY) nice -n 19 scripts/mutation.sh $(ARGS)

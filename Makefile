# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each builds what it needs on first use: .venv (everything), and for the tests two
# device-like venvs with a single extra each (.venv-runtime, .venv-tflite), as on a Pi,
# and the same two package sets on an emulated arm64 Pi (.emulated-pi/, qemu-user).

PYTHON ?= python3
SYSTEM_PACKAGES := dataset-fashion-mnist openssh-server openssh-client chromium shellcheck
PYTEST_ARGS ?=
# pytest-xdist workers for each pytest run in `make test`. Serial by default: on the 2-core
# machine -n 2 was slower (measured on the verify/inspect/predict/runtime/benchmark tests:
# 37.6 s serial, 41.3 s with -n 2 --dist loadscope, medians of 3). The fixtures are xdist-safe:
# `make test PYTEST_WORKERS=2`, or `pytest -n 8`, runs the same tests.
PYTEST_WORKERS ?= 0

EMULATED_PI := .emulated-pi

.PHONY: demo test lint actionlint bench dist system-deps emulated-pi pi-e2e clean clean-emulated-pi

demo: .venv/.installed
	.venv/bin/lenet-edge pipeline --dataset digits --out models/demo

test: .venv/.installed .venv-runtime/.installed .venv-tflite/.installed .venv-test-tools/.installed \
      system-deps emulated-pi actionlint
	.venv/bin/ruff check lenet_edge tests scripts
	.venv/bin/lint-imports --no-cache  # the TF boundary: contract in pyproject.toml
	.venv/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)
	@# The runtime tier again inside each device venv: its own interpreter, no TensorFlow.
	for venv in .venv-runtime .venv-tflite; do \
	  PYTHONPATH=.venv-test-tools $$venv/bin/python -m pytest -m runtime -n $(PYTEST_WORKERS) \
	    $(PYTEST_ARGS) || exit 1; done

lint: .venv/.installed
	.venv/bin/ruff check lenet_edge tests scripts
	.venv/bin/lint-imports --no-cache
	.venv/bin/hadolint Dockerfile

# The GitHub workflows, the composite action and the example workflow for users: actionlint's
# checks (jactionlint, its default profile; .github/jactionlint.yaml says what is relaxed and
# why), shellcheck on every bash script in them (a Debian package: system-deps), ruff on the
# Python one. Without shellcheck jactionlint skips the scripts with a note; under CI=true a
# missing shellcheck is an error instead.
WORKFLOW_FILES = .github/workflows/*.yml .github/actions/*/action.yml examples/github/*.yml
actionlint: .venv/.installed system-deps
	.venv/bin/jactionlint --no-color --ruff=.venv/bin/ruff $${CI:+--shellcheck=shellcheck} \
	  $(WORKFLOW_FILES)

bench: .venv/.installed system-deps
	.venv/bin/python scripts/bench_train.py
	.venv/bin/python scripts/bench_convert.py
	.venv/bin/python scripts/bench_runtime.py

# The sdist and the wheel in dist/ (lenet-edge is not on PyPI yet): copy the wheel to a
# device and pip install 'lenet_edge-<version>-py3-none-any.whl[runtime]'. twine checks
# their metadata (and that the README renders) before they are handed out.
dist: .venv/.installed
	rm -rf dist
	.venv/bin/python -m build --outdir dist .
	.venv/bin/twine check --strict dist/*

.venv/.installed: pyproject.toml
	test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
	.venv/bin/pip install --quiet -e '.[all,dev]'
	touch $@

.venv-runtime/.installed: pyproject.toml
	test -x .venv-runtime/bin/python || $(PYTHON) -m venv .venv-runtime
	.venv-runtime/bin/pip install --quiet -e '.[runtime]'
	touch $@

.venv-tflite/.installed: pyproject.toml
	test -x .venv-tflite/bin/python || $(PYTHON) -m venv .venv-tflite
	.venv-tflite/bin/pip install --quiet -e '.[tflite-runtime]'
	touch $@

# pytest for the device venvs, kept out of them (on PYTHONPATH only while they run tests), so
# they hold exactly their extra, as on a Pi, and the emulated Pi below gets the same set.
# Pure Python: one copy serves both (same $(PYTHON)). Versions as in the dev extra.
.venv-test-tools/.installed: pyproject.toml .venv/.installed
	rm -rf .venv-test-tools
	.venv/bin/pip install --quiet --target .venv-test-tools 'pytest>=8' 'pytest-xdist>=3' \
	  'hypothesis>=6'
	touch $@

# The arm64 tier: an emulated Raspberry Pi's Python 3.11 (Debian 12 arm64 under qemu-user, no
# binfmt_misc) with exactly the device venvs' packages, as aarch64 wheels. About a minute the
# first time; needs root for qemu-user-static and debootstrap (otherwise its tests skip).
emulated-pi: .venv/.installed .venv-runtime/.installed .venv-tflite/.installed
	@if [ "$$(id -u)" != 0 ] && [ ! -x $(EMULATED_PI)/bin/python-runtime ]; then \
	  echo "note: the emulated Pi needs root once (apt-get, debootstrap): arm64 tests skipped"; \
	  exit 0; fi; \
	mkdir -p $(EMULATED_PI) && scripts/emulated_pi.sh user-sysroot && \
	.venv-runtime/bin/pip freeze --exclude-editable > $(EMULATED_PI)/requirements-runtime.txt && \
	.venv-tflite/bin/pip freeze --exclude-editable > $(EMULATED_PI)/requirements-tflite-runtime.txt && \
	for extra in runtime tflite-runtime; do PIP=.venv/bin/pip scripts/emulated_pi.sh \
	  user-site $$extra $(EMULATED_PI)/requirements-$$extra.txt || exit 1; done

# Deploy end to end to an emulated Pi (a full Debian 12 arm64 VM with sshd on 127.0.0.1).
# Not part of `make test`: ~25 min the first time (the VM image is kept), ~10 min after.
pi-e2e: .venv/.installed
	scripts/pi_e2e.sh

# Debian packages: Fashion-MNIST's IDX files, a real sshd for the deploy tests, and
# Chromium for the report test. Installed only when running as root and missing.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "note: not installed:$$missing (sudo apt-get install$$missing); tests that need them are skipped"; fi

clean:
	rm -rf .venv .venv-runtime .venv-tflite .venv-test-tools .pytest_cache .ruff_cache .hypothesis

clean-emulated-pi:  # the arm64 sysroot and the VM image (rebuilding the VM takes ~25 min)
	-scripts/emulated_pi.sh vm-stop
	rm -rf $(EMULATED_PI)

# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each builds what it needs on first use: .venv (everything), and for the tests two
# device-like venvs with a single extra each (.venv-runtime, .venv-tflite), as on a Pi.

PYTHON ?= python3
SYSTEM_PACKAGES := dataset-fashion-mnist openssh-server openssh-client chromium
PYTEST_ARGS ?=

.PHONY: demo test lint bench system-deps clean

demo: .venv/.installed
	.venv/bin/lenet-edge pipeline --dataset digits --out models/demo

test: .venv/.installed .venv-runtime/.installed .venv-tflite/.installed system-deps
	.venv/bin/ruff check lenet_edge tests scripts
	.venv/bin/pytest $(PYTEST_ARGS)

lint: .venv/.installed
	.venv/bin/ruff check lenet_edge tests scripts
	.venv/bin/hadolint Dockerfile

bench: .venv/.installed system-deps
	.venv/bin/python scripts/bench_train.py
	.venv/bin/python scripts/bench_convert.py
	.venv/bin/python scripts/bench_runtime.py

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
	rm -rf .venv .venv-runtime .venv-tflite .pytest_cache .ruff_cache .hypothesis

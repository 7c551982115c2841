# syntax=docker/dockerfile:1
# Two images from one file (see README, "Docker"):
#   toolkit  TensorFlow toolchain and everything else: train, convert, verify, benchmark,
#            deploy, CI. linux/amd64 (and linux/arm64: TensorFlow publishes aarch64 wheels).
#   runtime  No TensorFlow: ai-edge-litert + onnxruntime + numpy, about a tenth of the size,
#            for a Raspberry Pi 4/5 with a 64-bit OS (linux/arm64) or any x86 box.
#
#   docker build --target toolkit -t lenet-edge:toolkit .
#   docker buildx build --platform linux/arm64 --target runtime -t lenet-edge:runtime --load .
#
# The base is pinned to an exact Python patch release on Debian bookworm (the Raspberry Pi OS
# base); its official image is multi-arch (amd64, arm64, arm/v7). For reproducible builds pin
# the digest too: --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- wheel: build lenet-edge once; both images install the same wheel ----------------------
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lenet_edge ./lenet_edge
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- toolkit ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS toolkit
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2
# openssh-client: `lenet-edge deploy` uses the system ssh. Debian security updates replace
# exact versions, so packages follow the pinned bookworm base instead of version pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=wheel /dist/ /tmp/dist/
# The wheel pins nothing itself: pyproject's extras carry the version ranges (TF ~= 2.21).
# hadolint ignore=DL3013
RUN wheel="$(ls /tmp/dist/lenet_edge-*.whl)" \
    && pip install --no-cache-dir "${wheel}[all]" \
    && rm -rf /tmp/dist
RUN groupadd --gid 10001 lenet \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin lenet \
    && mkdir -p /work && chown 10001:10001 /work
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["lenet-edge"]
CMD ["--help"]

# --- runtime (the default target: last stage) -------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=wheel /dist/ /tmp/dist/
# hadolint ignore=DL3013
RUN wheel="$(ls /tmp/dist/lenet_edge-*.whl)" \
    && pip install --no-cache-dir "${wheel}[runtime]" \
    && rm -rf /tmp/dist \
    && python -c "import ai_edge_litert, onnxruntime, lenet_edge.runtime" \
    && ! python -c "import tensorflow" 2>/dev/null
RUN groupadd --gid 10001 lenet \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin lenet \
    && mkdir -p /work && chown 10001:10001 /work
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["lenet-edge"]
CMD ["--help"]

"""lenet-edge: train LeNet-5, quantise and convert it, and verify it on an edge device.

Importing this package is cheap and never imports TensorFlow: the toolchain half
(`lenet_edge.toolchain`) imports it inside the functions that need it.
"""

# The one place the version is written: pyproject.toml reads it (setuptools dynamic version),
# `lenet-edge --version` prints it without importlib.metadata (fast, and right in a plain
# checkout), and the Release workflow refuses a tag that differs. Bump it with CHANGELOG.md.
__version__ = "0.1.0"

"""lenet-edge: train LeNet-5, quantise and convert it, and verify it on an edge device.

Importing this package is cheap and never imports TensorFlow: the toolchain half
(`lenet_edge.toolchain`) imports it inside the functions that need it.
"""

__version__ = "0.1.0"

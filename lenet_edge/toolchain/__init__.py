"""The toolchain half: imports TensorFlow. Never imported by the runtime half or by `--help`."""

import os

# TensorFlow's C++ start-up chatter is noise for a CLI user; warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

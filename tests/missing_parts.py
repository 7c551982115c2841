"""Skip here, fail in CI: a part of the test set-up that is not installed.

A module of its own, not conftest.py: `from conftest import ...` in a test module gets
whichever conftest was imported last (tests/deploy has one too), so it may not be this one.
"""

from __future__ import annotations

import os

import pytest


def not_installed(message: str):
    """Skip a test whose part is not installed here; in CI, where `make test` installs
    everything, fail it instead, so a missing install step cannot pass silently."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)

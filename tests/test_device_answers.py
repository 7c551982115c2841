"""A device's answers are input too: its verify/benchmark JSON and its preflight facts go
through the bounded JSON parser and the same type checks as a results file."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lenet_edge.deploy import device_checks, preflight
from lenet_edge.errors import DeviceError

DEEP = ("[" * 100_000 + "]" * 100_000).encode()  # RecursionError (exit 70) before


class FakeTransport:
    """A device that answers every command with `answer` on stdout."""

    target = SimpleNamespace(label="pi@fake")

    def __init__(self, answer: bytes):
        self.answer = answer

    def run_lines(self, script, args, on_line, timeout=None):
        return SimpleNamespace(returncode=0, stdout=b"", stderr=b"")

    def run(self, script, args, timeout=None):
        return SimpleNamespace(returncode=0, stdout=self.answer, stderr=b"")


def run_verify(answer: bytes):
    layout = device_checks.RemoteLayout("lenet-edge")
    return device_checks.run_check(FakeTransport(answer), layout, "python3", "r1", "verify")


@pytest.mark.parametrize(("answer", "message"), [
    (DEEP, "nested deeper than 64 levels"),
    (b'{"images": NaN}', "NaN is not a JSON number"),
    (json.dumps({"images": 5, "gates": {"max_drop": 1, "min_agreement": 0.9},
                 "results": "all passed"}).encode(), "results must be a list, got str"),
    (json.dumps({"images": 5, "gates": {"max_drop": 1, "min_agreement": 0.9},
                 "results": [{"variant": "int8"}]}).encode(), "results[0].runtime is missing"),
])
def test_a_malformed_device_report_is_a_device_error(answer, message):
    with pytest.raises(DeviceError, match=r"pi@fake: verify wrote .*") as caught:
        run_verify(answer)
    assert message in str(caught.value)


def test_a_deep_preflight_answer_is_a_device_error():
    with pytest.raises(DeviceError, match="pi@fake: preflight answer: JSON nested deeper"):
        preflight.probe(FakeTransport(DEEP), "python3", "lenet-edge")


def test_a_malformed_local_verify_json_is_not_compared(tmp_path):
    """deploy prints local figures beside the device's only from a checked verify.json."""
    (tmp_path / "verify.json").write_text(json.dumps({"results": [{"variant": 1}]}))
    assert device_checks.local_report(tmp_path, "verify") is None
    (tmp_path / "verify.json").write_text("[" * 5000 + "]" * 5000)
    assert device_checks.local_report(tmp_path, "verify") is None

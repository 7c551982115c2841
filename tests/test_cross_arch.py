"""Same bundle, two architectures: `verify --json` on an emulated arm64 Pi agrees with x86_64.

The bundle is made here on x86_64; the arm64 side runs the same packages as aarch64 wheels
under qemu-user with a Raspberry Pi's CPU model (scripts/emulated_pi.sh). Accuracy and
top-1 agreement must be identical for every variant x runtime: a kernel that computes a
different class on ARM is exactly what a user needs to know before shipping. Logit errors
(against the float model's logits) may differ in the last digits, within the tolerances below.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.arm64

EXACT = ("status", "accuracy", "float_accuracy", "delta_points", "agreement", "per_class_delta")
ERRORS = ("max_abs_logit_error", "mean_abs_logit_error")
# Float kernels sum in another order on NEON than on AVX: a few float32 ulps of logits of
# magnitude ~10 (measured: fp32 max error 2.38e-6 on arm64 vs 2.32e-6 on x86).
FLOAT_ATOL = 1e-5
# Integer kernels may requantise a few intermediate values to the neighbouring step (measured:
# onnx-int8 mean error 0.02056 on arm64 vs 0.02046 on x86, 0.5 %); 2 % leaves room for that
# and none for a kernel that is wrong (qemu's `-cpu max` int8 bug moved the error 35x).
QUANTISED_RTOL = 0.02


def _within_tolerance(variant: str, arm: float, x86: float) -> bool:
    if variant in ("fp32", "onnx-fp32"):
        return abs(arm - x86) <= FLOAT_ATOL
    return abs(arm - x86) <= max(FLOAT_ATOL, QUANTISED_RTOL * abs(x86))


def _table(title: str, x86: dict, arm: dict) -> str:
    def pair(a: dict, b: dict, field: str, fmt: str) -> str:
        return f"{a[field]:{fmt}} / {b[field]:{fmt}}"

    lines = [title, f"{'variant':<10} {'runtime':<15} {'accuracy % x86 / arm64':>22} "
                    f"{'agreement % x86 / arm64':>24} {'max|err| x86 / arm64':>22}"]
    for a, b in zip(x86["results"], arm["results"], strict=True):
        a = {**a, "accuracy": a["accuracy"] * 100, "agreement": a["agreement"] * 100}
        b = {**b, "accuracy": b["accuracy"] * 100, "agreement": b["agreement"] * 100}
        lines.append(f"{a['variant']:<10} {a['runtime']:<15} "
                     f"{pair(a, b, 'accuracy', '.2f'):>22} {pair(a, b, 'agreement', '.2f'):>24} "
                     f"{pair(a, b, 'max_abs_logit_error', '.3g'):>22}")
    return "\n".join(lines)


@pytest.mark.parametrize("extra,cpu", [("runtime", "cortex-a72"),
                                       ("tflite-runtime", "cortex-a72"),
                                       ("runtime", "cortex-a76")])
def test_arm64_verify_matches_x86(device_verify, capsys, extra, cpu):
    x86_proc, x86 = device_verify(extra, "x86_64")
    arm_proc, arm = device_verify(extra, "aarch64", cpu)
    assert x86_proc.returncode == arm_proc.returncode == 0, arm_proc.stderr[-2000:]
    with capsys.disabled():  # the comparison is part of the test log, as CI's evidence
        print("\n" + _table(f"cross-architecture verify, .[{extra}]: x86_64 vs emulated "
                            f"arm64 {cpu} ({arm['images']} images)", x86, arm))

    keys = [(r["variant"], r["runtime"], r["runtime_version"]) for r in x86["results"]]
    assert [(r["variant"], r["runtime"], r["runtime_version"]) for r in arm["results"]] == keys
    assert arm["skipped"] == x86["skipped"]
    for a, b in zip(x86["results"], arm["results"], strict=True):
        for field in EXACT:
            assert b[field] == a[field], f"{a['variant']} on {a['runtime']}: {field}"
        for field in ERRORS:
            assert _within_tolerance(a["variant"], b[field], a[field]), (
                f"{a['variant']} on {a['runtime']}: {field} {b[field]} on arm64, "
                f"{a[field]} on x86_64")

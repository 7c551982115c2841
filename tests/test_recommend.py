"""The recommendation: a pure function of verify and benchmark results.

Hand-built result records (what `verify --json` and `benchmark --json` read back as) pin each
rule; one test runs the real commands on the digits bundle and checks the rules hold there.
"""

from __future__ import annotations

import json

import pytest

from lenet_edge.errors import UsageError
from lenet_edge.report.recommend import (
    GATE,
    INCOMPATIBLE,
    LARGER,
    NOT_RUN,
    SLOWER,
    UNMEASURED,
    outcomes,
    recommend,
)
from lenet_edge.results.benchmark import BenchmarkReport, BenchmarkResult
from lenet_edge.results.skipped import Skipped
from lenet_edge.results.verify import VerifyReport, VerifyResult
from lenet_edge.runtime.threads import ThreadRecommendation

GATES = {"max_drop": 0.5, "min_agreement": 0.99}


def result(variant, runtime="litert", status="pass", accuracy=0.98, delta=0.0, agreement=1.0,
           message=""):
    measured = status != "incompatible"
    return VerifyResult(variant, runtime, "2.3.0", status,
                        accuracy=accuracy if measured else None,
                        delta_points=delta if measured else None,
                        agreement=agreement if measured else None, message=message)


def timing(variant, runtime="litert", size=70_000, p50=20.0, batch=1, throughput=50_000.0,
           threads=1):
    return BenchmarkResult(variant, runtime, "2.3.0", threads, batch, "ok", size, p50_us=p50,
                           throughput_ips=throughput)


def verify_report(*results, skipped=()):
    return VerifyReport("bundle", 100, GATES["max_drop"], GATES["min_agreement"], results,
                        tuple(Skipped(**s) for s in skipped))


def bench_report(*rows, recommendations=()):
    return BenchmarkReport("bundle", {}, {}, rows, recommendations=recommendations)


def why(recommendation) -> dict[tuple[str, str], str]:
    return {(r.variant, r.runtime): r.why for r in recommendation.rejected}


VERIFY = verify_report(
    result("fp32"), result("fp16"), result("int8", delta=-0.3, agreement=0.995),
    result("int16x8", status="fail", delta=-1.2, agreement=0.97,
           message="accuracy dropped 1.20 points (max 0.5); agreement 0.9700 < 0.99"),
    result("dynamic", runtime="tflite-runtime", status="incompatible",
           message="tflite-runtime 2.14.0 has no kernel for FULLY_CONNECTED version 12"),
    skipped=[{"variant": "onnx-fp32", "reason": "no onnx runtime installed"}],
)
BENCH = bench_report(
    timing("fp32", size=250_000, p50=24.0), timing("fp32", size=250_000, p50=900.0, batch=64),
    timing("fp16", size=128_000, p50=18.0), timing("fp16", size=128_000, p50=700.0, batch=64),
    timing("int8", size=72_000, p50=36.0), timing("int8", size=72_000, p50=400.0, batch=64),
    timing("int16x8", size=60_000, p50=500.0),  # smallest, but it failed its gate
)


def test_size_picks_the_smallest_variant_that_passed():
    rec = recommend(VERIFY, BENCH, "size")
    assert (rec.variant, rec.runtime) == ("int8", "litert")
    assert "smallest" in rec.reason and "70.3 KiB" in rec.reason and "-0.30 points" in rec.reason
    assert why(rec) == {
        ("fp32", "litert"): LARGER, ("fp16", "litert"): LARGER,
        ("int16x8", "litert"): GATE, ("dynamic", "tflite-runtime"): INCOMPATIBLE,
        ("onnx-fp32", "-"): NOT_RUN,
    }


def test_latency_picks_the_lowest_median_at_batch_1_not_at_the_large_batch():
    rec = recommend(VERIFY, BENCH, "latency")
    assert (rec.variant, rec.runtime) == ("fp16", "litert")
    assert "p50 18.0 µs" in rec.reason
    slower = {r.variant: r.detail for r in rec.rejected if r.why == SLOWER}
    assert slower == {"fp32": "p50 24.0 µs vs 18.0 µs at batch 1",
                      "int8": "p50 36.0 µs vs 18.0 µs at batch 1"}


def test_every_rejection_carries_the_figures_or_message_that_decided_it():
    details = {r.variant: r.detail for r in recommend(VERIFY, BENCH, "size").rejected}
    assert details["fp32"] == "244.1 KiB vs 70.3 KiB"
    assert details["int16x8"] == "accuracy dropped 1.20 points (max 0.5); agreement 0.9700 < 0.99"
    assert "FULLY_CONNECTED version 12" in details["dynamic"]
    assert details["onnx-fp32"] == "no onnx runtime installed"


def test_same_variant_on_two_runtimes_ties_on_size_and_is_broken_by_latency():
    verify = verify_report(result("int8"), result("int8", runtime="tflite-runtime"))
    bench = bench_report(timing("int8", p50=17.0), timing("int8", "tflite-runtime", p50=33.0))
    rec = recommend(verify, bench, "size")
    assert (rec.variant, rec.runtime) == ("int8", "litert")
    [lost] = rec.rejected
    assert (lost.runtime, lost.why) == ("tflite-runtime", SLOWER)
    assert lost.detail.startswith("same size, p50 33.0 µs vs 17.0 µs")


def test_a_latency_lead_within_ten_percent_is_called_a_close_call():
    verify = verify_report(result("fp32"), result("int8"), result("fp16"))
    bench = bench_report(timing("fp32", p50=20.0), timing("int8", p50=21.9),
                         timing("fp16", p50=30.0))
    rec = recommend(verify, bench, "latency")
    assert rec.variant == "fp32"
    assert "close call: int8 on litert is within 10% (p50 21.9 µs)" in rec.reason
    clear = bench_report(timing("fp32", p50=20.0), timing("int8", p50=22.1),
                         timing("fp16", p50=30.0))
    assert "close call" not in recommend(verify, clear, "latency").reason


def test_equal_latency_is_broken_by_size():
    verify = verify_report(result("fp32"), result("int8"))
    bench = bench_report(timing("fp32", size=250_000, p50=20.0), timing("int8", p50=20.0))
    rec = recommend(verify, bench, "latency")
    assert rec.variant == "int8"
    assert [(r.variant, r.why) for r in rec.rejected] == [("fp32", LARGER)]


def test_nothing_passed_means_no_recommendation_and_says_which_gates():
    verify = verify_report(result("int8", status="fail", delta=-2.0,
                                  message="accuracy dropped 2.00 points (max 0.5)"))
    rec = recommend(verify, BENCH, "size")
    assert rec.variant is None and rec.chosen is None
    assert rec.reason == ("no variant passed the accuracy gates (accuracy drop <= 0.5 points, "
                          "agreement >= 0.99)")
    assert rec.to_dict()["rejected"] == [{"variant": "int8", "runtime": "litert", "why": GATE,
                                          "detail": "accuracy dropped 2.00 points (max 0.5)"}]


def test_latency_without_a_benchmark_cannot_rank_and_says_so():
    rec = recommend(verify_report(result("int8")), None, "latency")
    assert rec.variant is None
    assert "none has a measured latency" in rec.reason
    assert [(r.why, r.detail) for r in rec.rejected] == [(UNMEASURED, "no benchmark at batch 1")]


def test_sizes_from_the_manifest_rank_without_a_benchmark():
    rec = recommend(verify_report(result("fp32"), result("int8")), None, "size",
                    sizes={"fp32": 250_000, "int8": 72_000})
    assert rec.variant == "int8"
    assert rec.chosen.p50_us is None and "p50" not in rec.reason


def test_outcomes_join_latency_at_batch_1_and_throughput_at_the_largest_batch():
    rows = {(o.variant, o.runtime): o for o in outcomes(VERIFY, BENCH)}
    fp32 = rows[("fp32", "litert")]
    assert (fp32.p50_us, fp32.throughput_batch, fp32.bytes) == (24.0, 64, 250_000)
    assert rows[("onnx-fp32", "-")].status == "skipped"
    assert rows[("dynamic", "tflite-runtime")].p50_us is None


def test_with_several_thread_counts_outcomes_use_the_recommended_one():
    one, two = timing("fp32", p50=30.0), timing("fp32", p50=20.0, threads=2)
    picked = ThreadRecommendation("fp32", "litert", 2, p90_us=25.0, p50_us=20.0,
                                  best_threads=2, best_p90_us=25.0)
    report = bench_report(one, two, recommendations=(picked,))
    (fp32,) = [o for o in outcomes(VERIFY, report) if o.variant == "fp32"]
    assert fp32.p50_us == 20.0


def test_an_unknown_preference_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown preference 'fastest'; choose from size, lat"):
        recommend(VERIFY, BENCH, "fastest")


def test_on_real_results_of_the_digits_bundle(fresh_bundle, run_cli):
    verify_json, bench_json = fresh_bundle / "v.json", fresh_bundle / "b.json"
    run_cli("verify", fresh_bundle, "--json", verify_json)
    # A short benchmark: the recommendation only needs a median per variant.
    run_cli("benchmark", fresh_bundle, "--runs", "50", "--min-time", "0.05", "--warmup", "5",
            "--warmup-time", "0", "--batch", "8", "--json", bench_json)
    verify = VerifyReport.from_dict(json.loads(verify_json.read_text()))
    bench = BenchmarkReport.from_dict(json.loads(bench_json.read_text()))
    for prefer, key in (("size", "bytes"), ("latency", "p50_us")):
        rec = recommend(verify, bench, prefer)
        rows = outcomes(verify, bench)
        passed = [o for o in rows if o.status == "pass"]
        assert rec.chosen in passed
        assert getattr(rec.chosen, key) == min(getattr(o, key) for o in passed)
        decided = {(r.variant, r.runtime) for r in rec.rejected}
        assert decided | {(rec.variant, rec.runtime)} == {(o.variant, o.runtime) for o in rows}
        assert all(r.detail for r in rec.rejected)

"""The report as one self-contained HTML file: inline CSS, images as data: URIs, no script.

Rendered by jinja2 from templates/ with autoescaping on: the templates hold all the markup
and this module hands them plain values (text, numbers, tables, PNG bytes), so no text from
a bundle, a results file or a device reaches the page unescaped. That is the one escaping
point; nothing here builds HTML by hand.

A Content-Security-Policy forbids every external load, so a browser that shows the page
complete has fetched nothing (and the report test would see a CSP console error if it tried).
"""

from __future__ import annotations

import base64
from typing import Any

from lenet_edge.report import figures, tables
from lenet_edge.report.contents import ReportContents, confusion_matrix, emulation_note
from lenet_edge.results.benchmark import BenchmarkReport

SECTIONS = (
    ("summary", "Summary"), ("recommendation", "Recommendation"),
    ("tradeoffs", "Accuracy, size and latency"), ("confusion", "Confusion matrices"),
    ("per-class", "Per-class accuracy change"), ("layers", "Per-layer quantisation error"),
    ("latency", "Latency distributions"),
    ("training", "Training"), ("disagreements", "Worst disagreements"),
    ("devices", "Device results"), ("versions", "Tool versions"),
)
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def environment():
    """The jinja2 environment of the report's templates: autoescaping, strict undefined."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("lenet_edge.report", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["data_uri"] = _data_uri
    env.filters["shade"] = _shade
    return env


def render_html(c: ReportContents) -> str:
    """The whole report page for gathered contents."""
    return environment().get_template("report.html.j2").render(
        c=c, v=_values(c), csp=_CSP, section_titles=SECTIONS,
        dataset=c.manifest.dataset_name, created=c.manifest.created or "?",
        accuracy=c.manifest.float_test_accuracy or 0)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _shade(points: float | None) -> str:
    """Red for a loss, green for a gain, stronger with size (saturating at 5 points)."""
    if not points:
        return ""
    alpha = min(abs(points) / 5.0, 1.0) * 0.55 + 0.1
    rgb = "214,39,40" if points < 0 else "44,160,44"
    return f"background:rgba({rgb},{alpha:.2f})"


def _values(c: ReportContents) -> dict[str, Any]:
    """What the sections show beyond `c` itself: tables, figures and notes, as plain values."""
    v: dict[str, Any] = {"versions": tables.versions(c.versions()),
                         "confusion": _confusion(c), "latency": _latency(c.benchmark),
                         "devices": [_device(d) for d in c.devices],
                         "layers": _layers(c)}
    if c.train is not None:
        title = f"LeNet-5 on {c.manifest.dataset_name}"
        v["training"] = {"png": figures.training(c.train.history, title),
                         "table": tables.training(c.train)}
    if c.verify is None:
        return v
    rec = c.recommendation
    entry = c.manifest.artifacts.get(rec.variant or "", {})
    v.update(
        summary=tables.summary(c.outcomes, c.on_front, rec),
        stages=tables.stages(c.pipeline) if c.pipeline and c.pipeline.stages else None,
        rejected=tables.rejected(rec) if rec.rejected else None,
        min_runtime=entry.get("min_runtime_version"),
        tradeoffs=figures.tradeoffs(c.outcomes, c.on_front, (rec.variant, rec.runtime)),
        per_class=tables.per_class(c.verify, c.class_names),
        gallery=[_card(c, d) for d in c.disagreements])
    return v


def _layers(c: ReportContents) -> dict[str, Any] | None:
    """explain.json drawn: SNR bars of every explained variant, and each one's table."""
    if c.explain is None:
        return None
    from lenet_edge.report.layer_figure import layer_snr
    from lenet_edge.results.explain import explain_table

    return {"png": layer_snr(c.explain), "skipped": c.explain.skipped,
            "tables": [(f"{r.variant} vs {r.reference_variant} on {r.runtime} "
                        f"{r.runtime_version}", explain_table(r)) for r in c.explain.reports]}


def _confusion(c: ReportContents) -> dict[str, Any]:
    matrices = [("float model (Keras, reference.npz)",
                 confusion_matrix(c.labels, c.float_classes, len(c.class_names)))]
    if c.recommended_classes is not None:
        rec = c.recommendation
        matrices.append((f"recommended: {rec.variant} on {rec.runtime}",
                         confusion_matrix(c.labels, c.recommended_classes, len(c.class_names))))
    return {"png": figures.confusion(matrices, c.class_names),
            "alt": "confusion matrices: " + "; ".join(title for title, _ in matrices)}


def _latency(benchmark: BenchmarkReport | None) -> dict[str, Any] | None:
    if benchmark is None:
        return None
    counts = benchmark.thread_counts or [1]
    threads = ("one thread" if counts == [1] else f"{counts[0]} threads" if len(counts) == 1
               else f"each of {', '.join(map(str, counts))} threads, interleaved")
    return {"png": figures.latency(benchmark.results), "table": tables.latency(benchmark),
            "policy": benchmark.policy, "threads": threads,
            "emulated": emulation_note(benchmark)}


def _card(c: ReportContents, d) -> dict[str, Any]:
    names = c.class_names
    return {"png": figures.digit(c.reference.images[d.index]), "index": d.index,
            "label": names[d.label], "float": names[d.float_class],
            "votes": [(variant, names[k]) for variant, _, k in d.variant_classes]}


def _device(d) -> dict[str, Any]:
    out: dict[str, Any] = {"name": d.name, "verify": d.verify is not None,
                           "benchmark": None}
    if d.verify is not None:
        out.update(summary=tables.summary(d.outcomes, None, d.recommendation),
                   messages=[f"{o.variant} on {o.runtime}: {o.message}" for o in d.outcomes
                             if o.message],
                   reason=d.recommendation.reason)
    if d.benchmark is not None:
        m = d.benchmark.machine
        out["benchmark"] = {"machine": f"{m.get('cpu')} ({m.get('arch')}), "
                                       f"Python {m.get('python')}",
                            "emulated": emulation_note(d.benchmark),
                            "png": figures.latency(d.benchmark.results)}
    return out

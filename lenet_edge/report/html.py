"""The report as one self-contained HTML file: inline CSS, images as data: URIs, no script.

A Content-Security-Policy forbids every external load, so a browser that shows the page
complete has fetched nothing (and the report test would see a CSP console error if it tried).
"""

from __future__ import annotations

import base64
from html import escape

from lenet_edge.report import figures, tables
from lenet_edge.report.contents import ReportContents, confusion_matrix, emulation_note
from lenet_edge.report.tables import Table

SECTIONS = (
    ("summary", "Summary"), ("recommendation", "Recommendation"),
    ("tradeoffs", "Accuracy, size and latency"), ("confusion", "Confusion matrices"),
    ("per-class", "Per-class accuracy change"), ("latency", "Latency distributions"),
    ("training", "Training"), ("disagreements", "Worst disagreements"),
    ("devices", "Device results"), ("versions", "Tool versions"),
)
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;
padding:0 20px 40px;color:#1b1b1b}
h1{font-size:22px;margin:24px 0 4px}h2{font-size:18px;margin:32px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
nav a{margin-right:12px}table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.recommended{background:#fff4c2;font-weight:600}tr.fail td{color:#b00020}
img.fig{max-width:100%;height:auto}.note{color:#555;font-style:italic}
.verdict-pass{color:#0a7d28;font-weight:700}.verdict-fail{color:#b00020;font-weight:700}
.gallery{display:flex;flex-wrap:wrap;gap:12px}.gallery figure{margin:0;width:150px;font-size:12px}
.gallery img{width:84px;height:84px;image-rendering:pixelated;border:1px solid #ccc}
.reason{background:#f3f7ff;border-left:4px solid #3b6fd4;padding:8px 12px}
"""


def render_html(c: ReportContents) -> str:
    """The whole report page for gathered contents."""
    dataset = c.manifest.get("dataset", {}).get("name", "?")
    verdict = ""
    if c.verify is not None:
        ok = c.verify.get("passed")
        verdict = (f' — <span class="verdict-{"pass" if ok else "fail"}">'
                   f'{"all gates passed" if ok else "a gate FAILED"}</span>')
    nav = " ".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title in SECTIONS)
    body = "".join(_section(sid, title, BUILDERS[sid](c)) for sid, title in SECTIONS)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>lenet-edge report: {escape(c.bundle)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>LeNet-5 on {escape(dataset)}: edge report</h1>"
        f"<p>Bundle <code>{escape(c.bundle)}</code>, converted "
        f"{escape(str(c.manifest.get('created', '?')))}; float test accuracy "
        f"{c.manifest.get('float_test_accuracy', 0):.2%}{verdict}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main></body></html>\n"
    )


def _section(sid: str, title: str, content: str) -> str:
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{content}</section>'


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _img(png: bytes | None, alt: str, css: str = "fig", missing: str = "no data") -> str:
    if png is None:
        return _note(f"nothing to plot: {missing}")
    data = base64.b64encode(png).decode()
    return f'<img class="{css}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(t: Table) -> str:
    """A table; its caption, if any, below it as a note."""
    head = "".join(f'<th{" class=num" if i in t.right else ""}>{escape(h)}</th>'
                   for i, h in enumerate(t.header))
    rows = []
    for r, row in enumerate(t.rows):
        mark = t.marks[r] if r < len(t.marks) else ""
        cells = []
        for i, cell in enumerate(row):
            style = _colour(t.values[r][i]) if t.values else ""
            cls = ' class="num"' if i in t.right else ""
            cells.append(f"<td{cls}{style}>{escape(cell)}</td>")
        rows.append(f'<tr{f" class={mark}" if mark else ""}>{"".join(cells)}</tr>')
    caption = f'<p class="note">{escape(t.caption)}</p>' if t.caption else ""
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + caption)


def _colour(points: float | None) -> str:
    """Red for a loss, green for a gain, stronger with size (saturating at 5 points)."""
    if not points:
        return ""
    alpha = min(abs(points) / 5.0, 1.0) * 0.55 + 0.1
    rgb = "214,39,40" if points < 0 else "44,160,44"
    return f' style="background:rgba({rgb},{alpha:.2f})"'


def _needs_verify(c: ReportContents) -> str | None:
    return None if c.verify is not None else _note(c.notes["verify"])


def _summary(c: ReportContents) -> str:
    if (missing := _needs_verify(c)) is not None:
        return missing
    gates = c.verify["gates"]
    parts = [f"<p>{c.verify['images']} reference images; gates: accuracy drop &lt;= "
             f"{gates['max_drop']:g} points and top-1 agreement with float &gt;= "
             f"{gates['min_agreement']:g}.</p>",
             table_html(tables.summary(c.outcomes, c.on_front, c.recommendation))]
    parts += [_note(f"{s['variant']} skipped: {s['reason']}") for s in c.verify["skipped"]]
    parts += [_note(f"{o.variant} on {o.runtime}: {o.message}") for o in c.outcomes
              if o.message and o.status != "skipped"]
    if "benchmark" in c.notes:
        parts.append(_note(c.notes["benchmark"]))
    if c.pipeline and c.pipeline.get("stages"):
        parts += ["<h3>Pipeline stages</h3>", table_html(tables.stages(c.pipeline))]
    return "".join(parts)


def _recommendation(c: ReportContents) -> str:
    if (missing := _needs_verify(c)) is not None:
        return missing
    rec = c.recommendation
    head = (f"<strong>{escape(rec.variant)} on {escape(rec.runtime)}</strong>: "
            if rec.variant else "<strong>none</strong>: ")
    parts = [f'<p class="reason">{head}{escape(rec.reason)} (preference: {rec.prefer})</p>']
    entry = c.manifest["artifacts"].get(rec.variant or "", {})
    if entry.get("min_runtime_version"):
        parts.append(_note(f"{rec.variant} needs a TFLite runtime >= "
                           f"{entry['min_runtime_version']} on the device."))
    if rec.rejected:
        parts += ["<h3>Not recommended</h3>", table_html(tables.rejected(rec))]
    return "".join(parts)


def _tradeoffs(c: ReportContents) -> str:
    if (missing := _needs_verify(c)) is not None:
        return missing
    chosen = (c.recommendation.variant, c.recommendation.runtime)
    return (_img(figures.tradeoffs(c.outcomes, c.on_front, chosen),
                 "latency and accuracy versus file size", missing="no variant was timed")
            + "<p>On the Pareto front (ringed; 'Pareto' in the summary table): no other "
              "variant x runtime is at once as small, as fast and as accurate, and better on "
              "one of the three.</p>")


def _confusion(c: ReportContents) -> str:
    matrices = [("float model (Keras, reference.npz)",
                 confusion_matrix(c.labels, c.float_classes, len(c.class_names)))]
    if c.recommended_classes is not None:
        rec = c.recommendation
        matrices.append((f"recommended: {rec.variant} on {rec.runtime}",
                         confusion_matrix(c.labels, c.recommended_classes, len(c.class_names))))
    note = _note(c.notes["confusion"]) if "confusion" in c.notes else ""
    alt = "confusion matrices: " + "; ".join(title for title, _ in matrices)
    return (_img(figures.confusion(matrices, c.class_names), alt) + note
            + f"<p>{c.evaluated} reference images; rows are true labels.</p>")


def _per_class(c: ReportContents) -> str:
    if (missing := _needs_verify(c)) is not None:
        return missing
    return ("<p>Accuracy on each class minus the float model's, in percentage points.</p>"
            + table_html(tables.per_class(c.verify, c.class_names)))


def _latency(c: ReportContents) -> str:
    if c.benchmark is None:
        return _note(c.notes["benchmark"])
    policy = c.benchmark.get("policy", {})
    counts = (c.benchmark.get("schedule") or {}).get("threads") or [1]
    threads = ("one thread" if counts == [1] else f"{counts[0]} threads" if len(counts) == 1
               else f"each of {', '.join(map(str, counts))} threads, interleaved")
    return (_emulated(c.benchmark)
            + _img(figures.latency(c.benchmark["results"]), "latency percentiles per variant "
                   "and runtime", missing="no variant was timed")
            + f"<p>Line: min to p99; dot: median; bar: p90; cross: max. At least "
              f"{policy.get('runs')} calls and {policy.get('min_time')} s per row, "
              f"{escape(threads)}.</p>" + table_html(tables.latency(c.benchmark)))


def _emulated(benchmark: dict) -> str:
    note = emulation_note(benchmark)
    return _note(note) if note else ""


def _training(c: ReportContents) -> str:
    if c.train is None:
        return _note(c.notes["training"])
    title = f"LeNet-5 on {c.manifest.get('dataset', {}).get('name', '?')}"
    return (_img(figures.training(c.train.get("history", []), title), "training curves",
                 missing="train.json holds no history")
            + table_html(tables.training(c.train)))


def _disagreements(c: ReportContents) -> str:
    if (missing := _needs_verify(c)) is not None:
        return missing
    note = _note(c.notes["disagreements"]) if "disagreements" in c.notes else ""
    if not c.disagreements:
        return note + "<p>Every variant agrees with the float model on every image.</p>"
    names = c.class_names
    cards = []
    for d in c.disagreements:
        votes = "<br>".join(f"{escape(v)}: {escape(names[k])}" for v, _, k in d.variant_classes)
        cards.append(
            f"<figure>{_img(figures.digit(c.reference.images[d.index]), f'image {d.index}', '')}"
            f"<figcaption>#{d.index} label {escape(names[d.label])}, float "
            f"{escape(names[d.float_class])}<br>{votes}</figcaption></figure>")
    return (note + "<p>Reference images where a variant's top-1 class differs from the float "
            "model's, those most variants disagree on first.</p>"
            f'<div class="gallery">{"".join(cards)}</div>')


def _devices(c: ReportContents) -> str:
    if not c.devices:
        return _note("no device results in the bundle: 'lenet-edge deploy' brings them back "
                     "as device-<host>-verify.json and device-<host>-benchmark.json")
    parts = []
    for d in c.devices:
        parts.append(f"<h3>{escape(d.name)}</h3>")
        if d.verify is None:
            parts.append(_note("no verify results from this device"))
        else:
            parts.append(table_html(tables.summary(d.outcomes, None, d.recommendation)))
            parts += [_note(f"{o.variant} on {o.runtime}: {o.message}") for o in d.outcomes
                      if o.message]
            rec = d.recommendation
            parts.append(f'<p class="reason">{escape(rec.reason)}</p>')
        if d.benchmark is not None:
            m = d.benchmark.get("machine", {})
            parts.append(f"<p>{escape(str(m.get('cpu')))} ({escape(str(m.get('arch')))}), "
                         f"Python {escape(str(m.get('python')))}</p>" + _emulated(d.benchmark))
            parts.append(_img(figures.latency(d.benchmark["results"]),
                              f"latency percentiles on {d.name}", missing="no timed rows"))
    return "".join(parts)


def _versions(c: ReportContents) -> str:
    return table_html(tables.versions(c.versions()))


BUILDERS = {
    "summary": _summary, "recommendation": _recommendation, "tradeoffs": _tradeoffs,
    "confusion": _confusion, "per-class": _per_class, "latency": _latency,
    "training": _training, "disagreements": _disagreements, "devices": _devices,
    "versions": _versions,
}

"""The report's per-layer figure: SNR of each layer of every explained variant, as bars.

One panel per variant (explain.json, written by `lenet-edge explain`), layers top to bottom
in graph order, the lowest SNR in red. A layer identical to the float model's (dynamic range
keeps small layers float) has no SNR: it is labelled "exact" instead of a bar. No
interpreter is loaded: the figures come from the saved results.
"""

from __future__ import annotations

import io
import math
import statistics
import warnings

from lenet_edge.report.figures import DPI
from lenet_edge.results.explain import ExplainReport, Explanations

_BAR, _WORST = "#1f77b4", "#d62728"
_COLUMNS = 2  # panels side by side: four variants make a 2 x 2 grid


def layer_snr(explanations: Explanations | None) -> bytes | None:
    """PNG bytes of the figure, or None when there is nothing to draw."""
    reports = [r for r in (explanations.reports if explanations else ()) if r.layers]
    if not reports:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = math.ceil(len(reports) / _COLUMNS)
    columns = min(_COLUMNS, len(reports))
    most = max(len(r.layers) for r in reports)
    fig = Figure(figsize=(5.2 * columns, rows * (0.27 * most + 1.1)), dpi=DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    scores = [layer.snr_db for r in reports for layer in r.layers if layer.snr_db is not None]
    # One scale for every panel, so variants compare by eye; an outlier (onnx-int8's input,
    # exact but for float rounding: 145 dB) would squash the rest, so the axis stops at twice
    # the median and longer bars end there, their figure written inside.
    top = 1.15 * min(max(scores, default=1.0), 2 * statistics.median(scores or [1.0]))
    with warnings.catch_warnings():  # a glyph missing from the font: see figures._quiet
        warnings.simplefilter("ignore")
        for ax, report in zip(axes, reports, strict=False):
            _panel(ax, report, top)
        for ax in axes[len(reports):]:
            ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _panel(ax, report: ExplainReport, top: float) -> None:
    worst = report.worst
    labels, widths, colours = [], [], []
    for layer in report.layers:
        labels.append(f"{layer.position} {layer.op}" + (f" ({layer.layer})" if layer.layer
                                                        else ""))
        widths.append(min(layer.snr_db or 0.0, top))
        colours.append(_WORST if layer is worst else _BAR)
    y = list(range(len(labels)))
    ax.barh(y, widths, color=colours)
    for position, layer, width in zip(y, report.layers, widths, strict=True):
        if layer.snr_db is not None and layer.snr_db > top:  # cut at the axis: say so
            ax.text(top * 0.98, position, f"{layer.snr_db:.0f} >", va="center", ha="right",
                    fontsize=7, color="white")
            continue
        text = "exact" if layer.snr_db is None and layer.mse == 0 else (
            "-" if layer.snr_db is None else f"{layer.snr_db:.1f}")
        ax.text(width + top * 0.01, position, text, va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()  # graph order, top to bottom
    ax.set_xlim(0, top)
    ax.set_xlabel("SNR versus the float model (dB; higher is closer)", fontsize=8)
    ax.set_title(f"{report.variant} vs {report.reference_variant} on {report.runtime}",
                 fontsize=9)
    ax.grid(alpha=0.3, axis="x")

"""The terminal view of a check against a baseline: `verify --baseline`, `benchmark --compare`.

Both commands give a RegressionReport and print it here, through the one row builder
(results/tables.py `regression_table`); failures are listed below the table, one line each.
"""

from __future__ import annotations

from lenet_edge.results.regression import RegressionReport

_COLOURS = {"pass": "green", "fail": "red"}


def regression_view(report: RegressionReport, console):
    """The table (figures beside the baseline's, statuses coloured) and its notes."""
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    from lenet_edge.cli.fitted_table import fitted_table
    from lenet_edge.results.tables import regression_table

    table = regression_table(report)
    rows = [[escape(cell) for cell in row] for row in table.rows]
    status = table.header.index("status")
    for row, mark in zip(rows, table.marks, strict=True):
        if mark in _COLOURS:
            row[status] = f"[{_COLOURS[mark]}]{mark}[/]"
    verdict = "[green]passed[/]" if report.passed else "[red]FAILED[/]"
    rendered = fitted_table(
        console, table.header, rows, right={table.header[i] for i in table.right},
        drop_order=("allowed", "runtime"), box=box.SIMPLE_HEAD,
        title=f"against baseline {escape(report.baseline)}: {verdict}",
        caption=escape(table.caption))
    failures = len(report.failures())
    notes = [Text(note, style="red" if n < failures else "") for n, note in enumerate(table.notes)]
    return Group(rendered, *notes)  # Text: brackets in paths and messages are not markup

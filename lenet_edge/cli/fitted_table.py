"""Result tables that fit the terminal: on a narrow one, whole columns are left out, in order.

Rich squeezes a table that is too wide by cutting every cell and header short (`accur…`,
`100.0…`), which reads as data. Instead the least needed columns go, one at a time, until the
rest fits, and the caption names what was left out. At 120 columns every table shows all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

# Far wider than any terminal: the width a table would take if nothing constrained it.
_UNBOUNDED = 10_000


def fitted_table(console, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
                 right: Collection[str] = (), drop_order: Sequence[str] = (),
                 row_styles: Sequence[str] | None = None, caption: str | None = None,
                 **table_options):
    """A rich Table of `rows` under `header`, without as many `drop_order` columns as it takes.

    Args:
        console: the Console it will be printed on; its width is the budget.
        rows: cells (str with markup, or renderables) per row; a row may stop early.
        right: headers of right-aligned columns.
        drop_order: headers that may go when the table is too wide, least needed first.
        row_styles: a style per row ("" for none).
        caption, table_options: as rich's Table; a line naming left-out columns is appended.
    """
    from rich.measure import Measurement

    unbounded = console.options.update(width=_UNBOUNDED, max_width=_UNBOUNDED)
    dropped: list[str] = []
    for name in (None, *drop_order):
        if name is not None:
            dropped.append(name)
        shown = [i for i, h in enumerate(header) if h not in dropped]
        table = _build(header, rows, shown, right, row_styles, None, table_options)
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            break
    if dropped:
        note = (f"left out at {console.width} columns: {', '.join(dropped)} "
                "(--json has every column)")
        caption = f"{caption}\n{note}" if caption else note
    return _build(header, rows, shown, right, row_styles, caption, table_options)


def _build(header, rows, shown, right, row_styles, caption, table_options):
    from rich.table import Table

    table = Table(caption=caption, **table_options)
    for i in shown:
        table.add_column(header[i], justify="right" if header[i] in right else "left",
                         no_wrap=True)
    for n, row in enumerate(rows):
        style = row_styles[n] if row_styles else None
        table.add_row(*(row[i] for i in shown if i < len(row)), style=style or None)
    return table

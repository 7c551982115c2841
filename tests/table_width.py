"""Checks that a command's result tables fit the terminal width the test set (COLUMNS).

A CLI test that reads a table from stdout sets COLUMNS itself: without it the width comes
from whatever environment runs pytest, and a caption folded at another width splits the
words the test looks for.
"""

from __future__ import annotations


def header_lines(stdout: str) -> list[str]:
    """The header line of each result table (the ones whose first column is 'variant')."""
    return [line for line in stdout.splitlines() if line.split()[:1] == ["variant"]]


def assert_fits(stdout: str, columns: int, header: str, all_columns: tuple[str, ...],
                left_out: tuple[str, ...] = ()) -> None:
    """Every line fits `columns`, nothing is cut short ('accur…'), and the table whose header
    line is `header` shows `all_columns` but `left_out`, which its caption names."""
    assert max(map(len, stdout.splitlines())) <= columns, stdout
    assert "…" not in stdout, stdout
    for column in all_columns:
        assert (column in header) == (column not in left_out), (column, header)
    text = " ".join(stdout.split())
    if left_out:
        assert f"left out at {columns} columns: {', '.join(left_out)} " in text, text

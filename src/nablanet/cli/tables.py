"""The tables the commands print and write: aligned text columns, and numbers as CSV cells."""

from __future__ import annotations


def text_table(headers: list, rows: list, *, left_columns: int = 0, ruled: bool = False) -> str:
    """``headers`` over ``rows`` (lists of strings) in aligned columns two spaces apart.

    The first ``left_columns`` columns are aligned left (names), the others right (numbers). With
    ``ruled``, a rule of ``-`` above the headers and under the last row, and one of ``=`` under the headers.

    Example:
        >>> print(text_table(["layer", "params"], [["dense", "650"], ["out", "11"]], left_columns=1))
        layer  params
        dense     650
        out        11
    """
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]

    def line(cells) -> str:
        return "  ".join(f"{cell:<{width}}" if i < left_columns else f"{cell:>{width}}"
                         for i, (cell, width) in enumerate(zip(cells, widths)))

    if not ruled:
        return "\n".join([line(headers)] + [line(row) for row in rows])
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([rule, line(headers), "=" * len(rule)] + [line(row) for row in rows] + [rule])


def csv_number(value) -> str:
    """A CSV cell: a float with seven significant digits (what a float32 output holds), anything else as text."""
    if isinstance(value, float):
        return format(value, ".7g")
    return str(value)

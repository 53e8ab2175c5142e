"""Plain-text (psql style) and HTML tables for the status output, without extra dependencies.

Numbers are shown with six significant digits and right-aligned; other values are
left-aligned and cut to a maximum length so one long value cannot widen the whole table.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tune._result_io import is_number


class Whole(str):
    """A cell value never cut to ``max_len`` (trial names: a cut name is useless)."""


def format_cell(value: Any, max_len: int | None = None) -> str:
    """The text shown for one value: '' for None, 6 significant digits for floats."""
    if isinstance(value, Whole):
        return str(value)
    if value is None:
        return ""
    if is_number(value):
        kind = getattr(getattr(value, "dtype", None), "kind", "f")
        if isinstance(value, int) or kind in ("i", "u"):
            text = str(int(value))
        else:
            text = f"{float(value):g}"
    else:
        text = str(value)
    text = text.replace("\n", " ")
    if max_len is not None and len(text) > max_len:
        text = text[: max(max_len - 3, 1)] + "..."
    return text


def _numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> list[bool]:
    numeric = [True] * width
    seen = [False] * width
    for row in rows:
        for i, value in enumerate(row):
            if value is None:
                continue
            seen[i] = True
            if not is_number(value):
                numeric[i] = False
    return [n and s for n, s in zip(numeric, seen)]


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str = "psql",
    max_len: int | None = None,
) -> str:
    """A table of ``rows`` under ``headers``; ``fmt`` is "psql" (text) or "html"."""
    numeric = _numeric_columns(rows, len(headers))
    cells = [[format_cell(v, max_len) for v in row] for row in rows]
    if fmt == "html":
        return _render_html(headers, cells, numeric)
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))

    def line(values: Sequence[str]) -> str:
        parts = [
            (v.rjust(w) if num else v.ljust(w)) for v, w, num in zip(values, widths, numeric)
        ]
        return "| " + " | ".join(parts) + " |"

    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    rule = "|" + "+".join("-" * (w + 2) for w in widths) + "|"
    out = [border, line(headers), rule]
    out.extend(line(row) for row in cells)
    out.append(border)
    return "\n".join(out)


def _render_html(headers: Sequence[str], cells: list[list[str]], numeric: list[bool]) -> str:
    def cell(tag: str, text: str, num: bool) -> str:
        style = ' style="text-align: right;"' if num else ""
        return f"<{tag}{style}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", h, n) for h, n in zip(headers, numeric))
    body = "".join(
        "<tr>" + "".join(cell("td", t, n) for t, n in zip(row, numeric)) + "</tr>"
        for row in cells
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

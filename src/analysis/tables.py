"""Tables for notebooks and the book: clean HTML (no dtype row, no quotes, all rows up to a
limit, horizontal scrolling for wide tables) with a plain-text fallback for PDF/LaTeX."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

STYLE = (
    "<style>.rlvr-table-wrap{overflow-x:auto;max-width:100%;margin:0.5em 0 1em}"
    ".rlvr-table{border-collapse:collapse;font-size:0.85em;white-space:nowrap}"
    ".rlvr-table th,.rlvr-table td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
    ".rlvr-table th{border-bottom:2px solid #888;font-weight:600}"
    ".rlvr-table td.text,.rlvr-table th.text{text-align:left}"
    ".rlvr-table tr:nth-child(even){background:#f7f7f9}"
    ".rlvr-table-note{font-size:0.8em;color:#666}</style>"
)


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** (-digits)):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        shown = ", ".join(str(v) for v in value[:30])
        return shown + (f", … ({len(value)} in all)" if len(value) > 30 else "")
    return str(value)


@dataclass
class Table:
    """A polars frame shown as a readable table."""

    frame: pl.DataFrame
    max_rows: int = 200
    digits: int = 4
    caption: str | None = None

    def _repr_html_(self) -> str:
        df = self.frame
        if df.width == 0:
            return "<p class='rlvr-table-note'>(nothing to show)</p>"
        text_cols = {c for c, t in df.schema.items() if t == pl.String or isinstance(t, pl.List)}
        head = "".join(f"<th class='{'text' if c in text_cols else 'num'}'>{html.escape(c)}</th>" for c in df.columns)
        body = []
        for row in df.head(self.max_rows).iter_rows():
            cells = "".join(
                f"<td class='{'text' if c in text_cols else 'num'}'>{html.escape(_cell(v, self.digits))}</td>"
                for c, v in zip(df.columns, row, strict=True)
            )
            body.append(f"<tr>{cells}</tr>")
        note = ""
        if df.height > self.max_rows:
            note = f"<p class='rlvr-table-note'>First {self.max_rows} of {df.height} rows.</p>"
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (
            f"{STYLE}<div class='rlvr-table-wrap'><table class='rlvr-table'>{caption}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>{note}"
        )

    def __repr__(self) -> str:
        with pl.Config(tbl_rows=self.max_rows, tbl_cols=-1, tbl_hide_column_data_types=True, fmt_str_lengths=60):
            return str(self.frame)


def show(frame: pl.DataFrame, *, max_rows: int = 200, digits: int = 4, caption: str | None = None) -> Table:
    """Wrap ``frame`` for display (``show(df)`` as the last line of a notebook cell)."""
    if not isinstance(frame, pl.DataFrame):
        msg = f"show() takes a polars DataFrame, got {type(frame).__name__}"
        raise TypeError(msg)
    return Table(frame, max_rows=max_rows, digits=digits, caption=caption)

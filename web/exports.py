"""Tables the office hands on: .xlsx (Chinese headers, frozen header row, widths, real
dates and percentages) and CSV (UTF-8 with a BOM, so Excel opens it in Chinese)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    # text, int, percent (a 0..1 float), datetime, date, hours; figure: a rate (float) or a count
    kind: str = "text"


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # the sheet's name and the file's
    columns: list[Column]
    rows: list[list[Any]]


def _width(column: Column, values: list[Any]) -> float:
    def cells(v: Any) -> int:  # a Chinese character takes about two columns
        text = "" if v is None else str(v)
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    longest = max([cells(column.title), *(cells(v) for v in values[:200])], default=8)
    return min(max(longest + 2, 8), 60)


def to_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = table.name[:31]
    sheet.append([c.title for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_cell(c, v) for c, v in zip(table.columns, row, strict=True)])
    formats = {"percent": "0.0%", "datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd",
               "hours": "0.0", "int": "0"}
    for index, column in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = _width(column, [r[index - 1] for r in table.rows])
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if column.kind == "figure":
                cell.number_format = "0.0%" if isinstance(cell.value, float) else "0"
            elif column.kind in formats:
                cell.number_format = formats[column.kind]
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(column: Column, value: Any) -> Any:
    if isinstance(value, datetime) and column.kind in ("datetime", "date"):
        return value.replace(tzinfo=None)  # Excel has no time zones: local time, as shown
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.title for c in table.columns])
    for row in table.rows:
        writer.writerow([_text(c, v) for c, v in zip(table.columns, row, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _text(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "percent" or (column.kind == "figure" and isinstance(value, float)):
        return f"{value * 100:.1f}%"
    if column.kind == "hours":
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)

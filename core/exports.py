"""The one writer of every CSV and XLSX file the product hands out (dashboard tables, the bank
register, an import's errors). Text in them is often typed by others — a partner's name, a
payee, a value quoted from an imported file — and a spreadsheet runs a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula (CSV injection). So every
text cell that starts with one of them is written after a single quote, as OWASP advises, and
in XLSX every text cell is stored as a string, never a formula. Numbers given as numbers
(``Decimal``, ``int``, ``float``) stay numbers: a negative amount is not text and is written as
it is. Why it is written here rather than with tablib: docs/architecture.md, "Exports"."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpResponse
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.workbook.child import INVALID_TITLE_REGEX

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def text_neutralised(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it (leading spaces aside: some
    importers trim them before reading a formula)."""
    return f"'{text}" if text.lstrip(" \u00a0").startswith(FORMULA_START) else text


def cell_value(value: Any) -> Any:
    """What a cell holds: numbers, dates and booleans as they are, ``None`` as empty, anything
    else as neutralised text (a lazily translated label included)."""
    if value is None:
        return ""
    if isinstance(value, str | Promise):
        return text_neutralised(str(value))
    if isinstance(value, int | float | Decimal | date):
        return value
    return text_neutralised(str(value))


@dataclass(frozen=True)
class Table:
    """A header and rows; ``number_formats`` maps a column's index to its XLSX number format
    (the CSV writes numbers as Python writes them: a Decimal keeps its places)."""

    header: Sequence[Any]
    rows: Iterable[Sequence[Any]]
    title: str = "Sheet"
    number_formats: Mapping[int, str] = field(default_factory=dict)


def table_csv(table: Table, *, bom: bool = False) -> bytes:
    """UTF-8, comma-separated, CRLF line ends; ``bom`` so that Excel reads it as UTF-8 (a
    bank's parser may not expect one)."""
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell_value(value) for value in table.header])
    writer.writerows([cell_value(value) for value in row] for row in table.rows)
    return out.getvalue().encode("utf-8")


def _xlsx_cell(sheet, value: Any, number_format: str | None) -> Cell:
    value = cell_value(value)
    if isinstance(value, str):
        # openpyxl refuses control characters other than tab, CR and LF in a cell.
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text is a string, never a formula
    if number_format is not None:
        cell.number_format = number_format
    return cell


def table_xlsx(table: Table) -> bytes:
    """One worksheet: the header, then the rows; text as strings, numbers as numbers."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(INVALID_TITLE_REGEX.sub("-", table.title)[:31] or "Sheet")
    sheet.append([_xlsx_cell(sheet, value, None) for value in table.header])
    for row in table.rows:
        sheet.append(
            [
                _xlsx_cell(sheet, value, table.number_formats.get(index))
                for index, value in enumerate(row)
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_response(table: Table, *, fmt: str, filename: str, bom: bool = False) -> HttpResponse:
    """The table as a download named ``filename.<fmt>``; an unknown format is a 404."""
    if fmt == "csv":
        content = table_csv(table, bom=bom)
    elif fmt == "xlsx":
        content = table_xlsx(table)
    else:
        raise Http404
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    safe_name = re.sub(r"[^\w.-]+", "-", filename)
    response["Content-Disposition"] = f'attachment; filename="{safe_name}.{fmt}"'
    return response

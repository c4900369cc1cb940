"""The one export writer (core.exports): text that a spreadsheet would run is neutralised, and
numbers stay numbers."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.http import Http404
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook

from core.exports import Table, table_csv, table_response, table_xlsx, text_neutralised

ROW = [Decimal("-5.00"), -3, "-1+2", "=1+1", "+1", "@SUM(A1)", "\tX", "\rX", None, "plain"]
NEUTRALISED = ["'-1+2", "'=1+1", "'+1", "'@SUM(A1)", "'\tX", "'\rX"]


def test_csv_neutralises_text_and_writes_numbers_as_numbers():
    table = Table(header=[gettext_lazy("Day"), "=header"], rows=[ROW, [date(2026, 6, 1)]])
    content = table_csv(table)
    assert content.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(content.decode(), newline="")))
    assert rows == [
        ["Day", "'=header"],
        ["-5.00", "-3", *NEUTRALISED, "", "plain"],
        ["2026-06-01"],
    ]
    assert table_csv(Table(header=["a"], rows=[]), bom=True) == "\ufeffa\r\n".encode()


def test_xlsx_stores_text_as_strings_and_numbers_as_numbers():
    table = Table(
        header=["amount"],
        rows=[ROW, ["bell\x07"]],
        title="top/partners?",
        number_formats={0: "0.00"},
    )
    sheet = load_workbook(io.BytesIO(table_xlsx(table))).active
    assert sheet is not None
    assert sheet.title == "top-partners-"
    cells = next(iter(sheet.iter_rows(min_row=2, max_row=2)))
    assert [(c.value, c.data_type) for c in cells[:2]] == [(-5, "n"), (-3, "n")]
    assert cells[0].number_format == "0.00"
    # XML reads a carriage return back as a line feed; the quote is what counts.
    assert [c.value for c in cells[2:8]] == [v.replace("\r", "\n") for v in NEUTRALISED]
    assert {c.data_type for c in cells[2:8]} == {"s"}
    assert (cells[8].value, cells[9].value) == (None, "plain")
    # A control character openpyxl cannot store is replaced rather than failing the export.
    assert sheet.cell(3, 1).value == "bell\ufffd"


def test_response_names_the_file_and_refuses_an_unknown_format():
    table = Table(header=["a"], rows=[["b"]])
    response = table_response(table, fmt="xlsx", filename='shop "top" 2026')
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == 'attachment; filename="shop-top-2026.xlsx"'
    with pytest.raises(Http404):
        table_response(table, fmt="pdf", filename="x")


@pytest.mark.parametrize("text", [" =1+1", '\u00a0=HYPERLINK("http://x")', "  @SUM(1)"])
def test_a_formula_behind_leading_spaces_is_neutralised_too(text):
    assert text_neutralised(text) == f"'{text}"
